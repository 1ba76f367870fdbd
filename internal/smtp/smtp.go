// Package smtp sends email through an SMTP server for the embedded server (the admins' email
// channel and the reporters' mail): STARTTLS or implicit TLS, authentication, and messages
// built with github.com/wneessen/go-mail as multipart/alternative text and HTML. Header values
// come from user text (ticket titles): each is flattened to one line and, when it needs it,
// RFC 2047-encoded, so no text can end a header and start another.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// TLS modes.
const (
	// TLSStartTLS upgrades the connection with STARTTLS and refuses a server that cannot
	// (port 587, the default).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone sends in the clear: only for a relay on this machine (or a test's).
	TLSNone = "none"
)

// Config is how to reach the mail server and whom mail is from.
type Config struct {
	Host string
	Port int
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// Username and Password authenticate (the best mechanism the server offers) when set.
	Username, Password string
	// From is the sender, "Incident Manager <support@example.com>" or a bare address.
	From string
	// Timeout bounds one send, connection included; 0 means 15 s.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (a test's CA); nil verifies against the system's.
	TLSConfig *tls.Config
}

// Sender is a ticket.Mailer on one SMTP server.
type Sender struct {
	cfg  Config
	from *mail.Address
}

var _ ticket.Mailer = (*Sender)(nil)

// New checks cfg and returns its sender.
func New(cfg Config) (*Sender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp: TLS mode %q is not one of starttls, tls, none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: the sender %q is not an address: %w", cfg.From, err)
	}
	return &Sender{cfg: cfg, from: from}, nil
}

// From is the sender's address.
func (s *Sender) From() string { return s.from.Address }

// Server names the mail server as host:port.
func (s *Sender) Server() string { return net.JoinHostPort(s.cfg.Host, fmt.Sprint(s.cfg.Port)) }

var headerName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,62}$`)

// OneLine flattens every line break and control character of a header value to a space.
func OneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' }), " ")
}

// Message builds the MIME message for m, From this sender.
func (s *Sender) Message(m ticket.Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	if err := msg.To(m.To...); err != nil {
		return nil, &ticket.PermanentError{Err: fmt.Errorf("recipient: %w", err)}
	}
	msg.Subject(OneLine(m.Subject))
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(OneLine(strings.Trim(m.MessageID, "<>")))
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	if len(m.References) > 0 {
		refs := make([]string, len(m.References))
		for i, r := range m.References {
			refs[i] = "<" + OneLine(strings.Trim(r, "<>")) + ">"
		}
		msg.SetGenHeader(gomail.HeaderReferences, strings.Join(refs, " "))
	}
	for k, v := range m.Headers {
		if !headerName.MatchString(k) {
			return nil, &ticket.PermanentError{Err: fmt.Errorf("header name %q is not a token", k)}
		}
		msg.SetGenHeader(gomail.Header(k), OneLine(v))
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// Send implements ticket.Mailer.
func (s *Sender) Send(ctx context.Context, m ticket.Mail) error {
	msg, err := s.Message(m)
	if err != nil {
		return err
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	tc := s.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return &ticket.PermanentError{Err: fmt.Errorf("smtp client: %w", err)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	return classify(c.DialAndSendWithContext(ctx, msg))
}

// classify tells failures that may pass (4xx replies, the server unreachable, a timeout)
// from those that will not (5xx replies, a refused login, no STARTTLS where it is required).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		if se.IsTemp() {
			return &ticket.TransientError{Err: fmt.Errorf("SMTP: %v", err)}
		}
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return &ticket.PermanentError{Err: fmt.Errorf("SMTP: %v", err)}
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &ticket.TransientError{Err: fmt.Errorf("SMTP: %v", err)}
	}
	msg := err.Error()
	for _, permanent := range []string{"535", "authentication", "STARTTLS", "starttls", "x509", "certificate"} {
		if strings.Contains(msg, permanent) {
			return &ticket.PermanentError{Err: fmt.Errorf("SMTP: %v", err)}
		}
	}
	return &ticket.TransientError{Err: fmt.Errorf("SMTP: %v", err)}
}
