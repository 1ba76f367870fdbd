package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Email in: a message to the support address becomes a ticket (subject → title, plain-text
// body → description, sender → reporter); a reply naming a ticket (its reference in the
// subject, or our Message-ID in In-Reply-To/References) from that ticket's reporter is
// appended to it. Attachments are listed by name, type and size; their content is not kept.
// Mail that cannot be parsed, or has no usable sender, is refused whole (the SMTP listener
// answers 5xx, so the sending server bounces it); nothing is half made.

// MaxMail is the largest message taken in (the SMTP listener's SIZE).
const MaxMail = 10 << 20

// MailError is a message refused: Permanent ones bounce, others may be retried by the sender.
type MailError struct {
	Reason    string
	Permanent bool
}

func (e *MailError) Error() string { return e.Reason }

// InboundMail is one message as it arrived.
type InboundMail struct {
	// EnvelopeFrom is the SMTP MAIL FROM ("" for bounces).
	EnvelopeFrom string
	// SPF is the SPF verdict for the sending host and EnvelopeFrom ("unchecked" if none).
	SPF string
	Raw []byte
}

// ParsedMail is what intake reads from a message.
type ParsedMail struct {
	From        *mail.Address
	Subject     string
	MessageID   string
	InReplyTo   []string
	References  []string
	Text        string
	Attachments []ticket.Attachment
	// Automatic: an auto-reply, bounce or list message, which is never answered (no mail loop).
	Automatic bool
}

var (
	subjectRef = regexp.MustCompile(`\[#([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]`)
	threadRef  = regexp.MustCompile(`^ticket\.([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(\.[^@]*)?@`)
	msgIDs     = regexp.MustCompile(`<([^<>\s]+)>`)
)

// TicketOf returns the ticket a message names: our thread ID in References or In-Reply-To
// first, then a reference in the subject.
func (m *ParsedMail) TicketOf() string {
	for _, id := range append(append([]string(nil), m.InReplyTo...), m.References...) {
		if g := threadRef.FindStringSubmatch(id); g != nil {
			return strings.ToLower(g[1])
		}
	}
	if g := subjectRef.FindStringSubmatch(m.Subject); g != nil {
		return strings.ToLower(g[1])
	}
	return ""
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "us-ascii", "utf8":
		return r, nil
	}
	enc, err := htmlindex.Get(charset)
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return enc.NewDecoder().Reader(r), nil
}

// ParseMail reads a message: headers, the plain-text body (or the HTML one as text), the
// attachments' names and sizes.
func ParseMail(raw []byte) (*ParsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, &MailError{Reason: "the message cannot be parsed: " + err.Error(), Permanent: true}
	}
	h := msg.Header
	p := &ParsedMail{}
	from, err := mail.ParseAddress(decodeHeader(h.Get("From")))
	if err != nil || !strings.Contains(from.Address, "@") {
		return nil, &MailError{Reason: "the message has no valid From address", Permanent: true}
	}
	p.From = from
	p.Subject = oneLine(decodeHeader(h.Get("Subject")))
	p.MessageID = firstID(h.Get("Message-Id"))
	p.InReplyTo = allIDs(h.Get("In-Reply-To"))
	p.References = allIDs(h.Get("References"))
	auto := strings.ToLower(h.Get("Auto-Submitted"))
	prec := strings.ToLower(h.Get("Precedence"))
	p.Automatic = (auto != "" && auto != "no") || prec == "bulk" || prec == "list" || prec == "junk" || h.Get("List-Id") != "" || h.Get("X-Autoreply") != ""
	text, html, err := p.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" && html != "" {
		text = htmlToText(html)
	}
	p.Text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if !utf8.ValidString(p.Text) {
		p.Text = strings.ToValidUTF8(p.Text, "\uFFFD")
	}
	p.Text = strings.ReplaceAll(p.Text, "\x00", "")
	return p, nil
}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

func firstID(v string) string {
	if ids := allIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return strings.TrimSpace(v)
}

func allIDs(v string) []string {
	var out []string
	for _, m := range msgIDs.FindAllStringSubmatch(v, 20) {
		out = append(out, m[1])
	}
	return out
}

// maxParts bounds the parts of one message, maxDepth their nesting.
const (
	maxParts = 100
	maxDepth = 5
)

// walk returns the first text/plain and text/html bodies and records the attachments.
func (p *ParsedMail) walk(contentType, cte string, body io.Reader, depth int) (text, htmlBody string, err error) {
	mt, params, perr := mime.ParseMediaType(contentType)
	if contentType == "" || perr != nil {
		mt, params = "text/plain", map[string]string{"charset": "us-ascii"}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth >= maxDepth || params["boundary"] == "" {
			return "", "", &MailError{Reason: "the message's MIME structure is too deep or has no boundary", Permanent: true}
		}
		mr := multipart.NewReader(body, params["boundary"])
		for n := 0; ; n++ {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return text, htmlBody, nil
			}
			if err != nil {
				return "", "", &MailError{Reason: "a MIME part cannot be read: " + err.Error(), Permanent: true}
			}
			if n >= maxParts {
				return "", "", &MailError{Reason: "the message has too many MIME parts", Permanent: true}
			}
			disp, dparams, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
			ptype := part.Header.Get("Content-Type")
			name := dparams["filename"]
			if name == "" {
				_, tp, _ := mime.ParseMediaType(ptype)
				name = tp["name"]
			}
			if disp == "attachment" || (name != "" && !strings.HasPrefix(ptype, "multipart/")) {
				size, _ := io.Copy(io.Discard, decoder(part.Header.Get("Content-Transfer-Encoding"), part))
				if len(p.Attachments) < ticket.MaxAttachments {
					at, _, _ := mime.ParseMediaType(ptype)
					if at == "" {
						at = "application/octet-stream"
					}
					p.Attachments = append(p.Attachments, ticket.Attachment{Name: ticket.Clip(oneLine(decodeHeader(name)), 200), Type: at, Size: int(size)})
				}
				continue
			}
			t, h, err := p.walk(ptype, part.Header.Get("Content-Transfer-Encoding"), part, depth+1)
			if err != nil {
				return "", "", err
			}
			if text == "" {
				text = t
			}
			if htmlBody == "" {
				htmlBody = h
			}
		}
	}
	if mt != "text/plain" && mt != "text/html" {
		return "", "", nil
	}
	r, err := charsetReader(params["charset"], decoder(cte, body))
	if err != nil {
		r = decoder(cte, body) // an unknown charset: read as it is, invalid bytes replaced later
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxMail))
	if err != nil {
		return "", "", &MailError{Reason: "the message body cannot be decoded: " + err.Error(), Permanent: true}
	}
	if mt == "text/html" {
		return "", string(b), nil
	}
	return string(b), "", nil
}

func decoder(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks of base64 text.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}

var (
	htmlTags   = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	htmlBreaks = regexp.MustCompile(`(?i)<(br|/p|/div|/li|/tr|/h[1-6])[^>]*>`)
)

func htmlToText(s string) string {
	s = htmlBreaks.ReplaceAllString(s, "\n")
	s = htmlTags.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

// StripQuoted drops the quoted message a reply carries: lines from "On … wrote:" or the first
// run of ">" lines to the end, and a signature after "-- ".
func StripQuoted(text string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), MaxMail)
	for sc.Scan() {
		l := sc.Text()
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") || l == "-- " || (strings.HasPrefix(t, "On ") && strings.HasSuffix(t, "wrote:")) || strings.HasPrefix(t, "-----Original Message-----") {
			break
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// Mail handles one inbound message: appended to the ticket it replies to when its sender is
// that ticket's reporter, otherwise filed as a new ticket. A redelivered message (the same
// Message-ID) changes nothing.
func (s *Service) Mail(ctx context.Context, in InboundMail) (*ticket.Ticket, bool, error) {
	p, err := ParseMail(in.Raw)
	if err != nil {
		return nil, false, err
	}
	spf := in.SPF
	if spf == "" {
		spf = "unchecked"
	}
	now := s.now()
	if id := p.TicketOf(); id != "" {
		t, err := s.Tickets.Get(ctx, id)
		if err == nil && strings.EqualFold(t.Reporter.Email, p.From.Address) {
			got, err := s.Tickets.Update(context.WithoutCancel(ctx), id, func(x *ticket.Ticket) error {
				return x.ReporterReplied(p.MessageID, StripQuoted(p.Text), p.Attachments, now)
			})
			if err != nil {
				return nil, false, err
			}
			s.log().InfoContext(ctx, "email appended to its ticket", "ticketId", id, "spf", spf)
			return got, false, nil
		}
		if err != nil && ticket.ErrorCode(err) != ticket.ENOTFOUND {
			return nil, false, err
		}
		// Someone else's reply, or a ticket we do not know: a new ticket.
	}
	name := p.From.Name
	if name == "" {
		name = p.From.Address[:strings.LastIndexByte(p.From.Address, '@')]
	}
	email := p.From.Address
	if ticket.EmailProblem(email) != "" {
		return nil, false, &MailError{Reason: "the sender's address is not one a reply can go to", Permanent: true}
	}
	title := p.Subject
	if title == "" {
		title = "(no subject)"
	}
	description := p.Text
	if description == "" {
		description = "(no text)"
	}
	if len(p.Attachments) > 0 {
		description += "\n\nAttachments (not kept):"
		for _, a := range p.Attachments {
			description += fmt.Sprintf("\n  %s (%s, %d bytes)", a.Name, a.Type, a.Size)
		}
	}
	n := ticket.NewTicket{
		Title:       ticket.Clip(title, ticket.MaxTitle),
		Description: ticket.Clip(description, ticket.MaxDescription),
		Severity:    ticket.SeverityMedium,
		Category:    "email",
		Reporter:    ticket.Reporter{Name: ticket.Clip(oneLine(name), ticket.MaxName), Email: email},
	}
	n.Normalize()
	if err := n.Validate(); err != nil {
		return nil, false, &MailError{Reason: "the message cannot become a ticket: " + ticket.ErrorMessage(err), Permanent: true}
	}
	t := ticket.NewFromIntake(s.newID(), ticket.Intake{
		Title: n.Title, Description: n.Description, Severity: n.Severity, Category: n.Category, Reporter: n.Reporter,
		Source:      &ticket.Source{Kind: ticket.SourceEmail, Sender: &ticket.Sender{Address: email, SPF: spf, MessageID: p.MessageID}},
		Attachments: p.Attachments,
		By:          ticket.Actor{Kind: ticket.ActorUser, Name: n.Reporter.Name},
	}, now)
	if !(&ticket.Sender{SPF: spf}).Verified() {
		t.Timeline[0].Message = "Ticket filed by email; the sender could not be verified (SPF " + spf + ")."
	} else {
		t.Timeline[0].Message = "Ticket filed by email."
	}
	if s.ReporterMail && !p.Automatic {
		t.QueueMail(ticket.MailFiled, "", now)
	}
	// The Message-ID as idempotency key: a message delivered twice files one ticket.
	idem := ticket.Idempotency{}
	if p.MessageID != "" {
		sum := sha256.Sum256([]byte(p.MessageID))
		idem = ticket.Idempotency{Key: "mail:" + hex.EncodeToString(sum[:16]), Hash: hex.EncodeToString(sum[16:])}
	}
	stored, replayed, err := s.Tickets.Create(context.WithoutCancel(ctx), t, idem)
	if err != nil {
		if ticket.ErrorCode(err) == ticket.EUNAVAILABLE {
			return nil, false, &MailError{Reason: "tickets cannot be stored right now", Permanent: false}
		}
		return nil, false, err
	}
	if replayed {
		return stored, false, nil
	}
	s.log().InfoContext(ctx, "ticket filed by email", "ticketId", stored.ID, "spf", spf, "attachments", len(p.Attachments))
	s.start(ctx, stored)
	return stored, true, nil
}
