// Package smtpd is the embedded server's SMTP listener for email in
// (github.com/emersion/go-smtp): it takes messages for the support addresses only, up to a
// size limit, checks the sender's SPF, and hands each whole message to a handler. What the
// handler refuses is refused in the SMTP dialogue (5xx: the sending server bounces it with
// the reason; 4xx: it tries again later), so a message is either a ticket or a bounce.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one message as received.
type Message struct {
	EnvelopeFrom string
	Recipients   []string
	RemoteIP     net.IP
	HELO         string
	// SPF is the verdict for RemoteIP and EnvelopeFrom (or the HELO name for bounces).
	SPF string
	Raw []byte
}

// Rejection is a handler's refusal: Permanent ones are 5xx (a bounce), others 4xx.
type Rejection struct {
	Reason    string
	Permanent bool
}

func (r *Rejection) Error() string { return r.Reason }

// Config configures a listener.
type Config struct {
	// Addresses are the support addresses mail is taken for (case-insensitive).
	Addresses []string
	// Domain is the name the server greets with.
	Domain string
	// MaxBytes bounds one message (SIZE); larger ones are refused with 552.
	MaxBytes int64
	// TLS, when set, offers STARTTLS.
	TLS *tls.Config
	// SPF checks the sender; nil checks nothing ("unchecked").
	SPF *SPF
	// Handle receives each accepted message; a *Rejection refuses it in the dialogue.
	Handle func(ctx context.Context, m Message) error
	Log    *slog.Logger
}

// Server is a running listener.
type Server struct {
	srv *smtp.Server
	ln  net.Listener
}

// Listen starts a listener on addr.
func Listen(addr string, c Config) (*Server, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	be := smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		var ip net.IP
		if a, ok := conn.Conn().RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP
		}
		return &session{c: &c, conn: conn, ip: ip}, nil
	})
	s := smtp.NewServer(be)
	s.Domain = c.Domain
	s.MaxMessageBytes = c.MaxBytes
	s.MaxRecipients = 20
	s.ReadTimeout, s.WriteTimeout = 60*time.Second, 60*time.Second
	s.TLSConfig = c.TLS
	s.ErrorLog = errorLog{c.Log}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go s.Serve(ln)
	return &Server{srv: s, ln: ln}, nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops taking connections and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

type errorLog struct{ log *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.log.Warn("smtp listener", "msg", strings.TrimSpace(sprintf(format, v...)))
}
func (e errorLog) Println(v ...any) {
	e.log.Warn("smtp listener", "msg", strings.TrimSpace(sprintln(v...)))
}

type session struct {
	c    *Config
	conn *smtp.Conn
	ip   net.IP
	from string
	rcpt []string
}

func (s *session) Reset()        { s.from, s.rcpt = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	for _, a := range s.c.Addresses {
		if strings.EqualFold(strings.TrimSpace(a), to) {
			s.rcpt = append(s.rcpt, to)
			return nil
		}
	}
	return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here: mail the support address"}
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			s.c.Log.Warn("email refused: too large", "remote", s.ip.String(), "limit", s.c.MaxBytes)
			return smtp.ErrDataTooLarge
		}
		return err
	}
	m := Message{EnvelopeFrom: s.from, Recipients: s.rcpt, RemoteIP: s.ip, HELO: s.conn.Hostname(), SPF: "unchecked", Raw: raw}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.c.SPF != nil {
		m.SPF = s.c.SPF.Check(ctx, s.ip, m.HELO, s.from)
		if m.SPF == "fail" {
			s.c.Log.Warn("email refused: SPF fail", "remote", s.ip.String())
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 23}, Message: "SPF: the sender's domain does not allow this host to send for it"}
		}
	}
	err = s.c.Handle(ctx, m)
	var rej *Rejection
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rej) && rej.Permanent:
		s.c.Log.Warn("email refused", "remote", s.ip.String(), "reason", rej.Reason)
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: " + oneLine(rej.Reason)}
	default:
		s.c.Log.Error("email not taken; the sender will retry", "remote", s.ip.String(), "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot take the message right now; try again later"}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
}
