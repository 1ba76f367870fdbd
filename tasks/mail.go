package tasks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	htmltemplate "html/template"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Email: the admins' email channel (a ticket.Publisher over a ticket.Mailer) and the emails
// to reporters (filed, answered, resolved). Both are multipart text and HTML; the HTML is
// rendered with html/template, so user text is always escaped, and every header value is
// flattened to one line by the mailer.

//go:embed mailtmpl/*.tmpl
var mailTemplates embed.FS

var (
	reporterText = texttemplate.Must(texttemplate.ParseFS(mailTemplates, "mailtmpl/reporter.txt.tmpl"))
	reporterHTML = htmltemplate.Must(htmltemplate.ParseFS(mailTemplates, "mailtmpl/reporter.html.tmpl"))
	adminText    = texttemplate.Must(texttemplate.ParseFS(mailTemplates, "mailtmpl/admin.txt.tmpl"))
	adminHTML    = htmltemplate.Must(htmltemplate.ParseFS(mailTemplates, "mailtmpl/admin.html.tmpl"))
)

// MailDomain is the domain of the Message-IDs and thread IDs this deployment makes: the
// sender's domain.
func MailDomain(from string) string {
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		return strings.Trim(from[i+1:], "> ")
	}
	return "incident-manager.invalid"
}

// statusLink is the reporter's status page of a ticket.
func statusLink(siteURL, id string) string {
	if siteURL == "" {
		return ""
	}
	return strings.TrimRight(siteURL, "/") + "/#/ticket/" + url.PathEscape(id)
}

// ReporterMail renders one notice to the reporter of t.
func ReporterMail(t *ticket.Ticket, n ticket.MailNotice, cfg ticket.Config, domain string) (ticket.Mail, error) {
	ref := ticket.Reference(t.ID)
	var subject string
	switch n.Event {
	case ticket.MailFiled:
		subject = "Your ticket was filed: " + t.Title
	case ticket.MailAnswered:
		subject = "Re: " + t.Title
	default:
		subject = "Resolved: " + t.Title
	}
	subject = ref + " " + ticket.Clip(subject, 150)
	data := map[string]any{
		"Event": n.Event, "Name": t.Reporter.Name, "Text": n.Text, "Ref": ref, "Title": t.Title,
		"Severity": t.Severity, "Status": t.Status, "Link": statusLink(cfg.SiteURL, t.ID), "Subject": subject,
	}
	var text, html bytes.Buffer
	if err := reporterText.Execute(&text, data); err != nil {
		return ticket.Mail{}, err
	}
	if err := reporterHTML.Execute(&html, data); err != nil {
		return ticket.Mail{}, err
	}
	return ticket.Mail{
		To:         []string{t.Reporter.Email},
		Subject:    subject,
		Text:       text.String(),
		HTML:       html.String(),
		MessageID:  n.ID + "@" + domain,
		References: []string{ticket.ThreadID(t.ID, domain)},
		// RFC 3834: an automatic answer, so that out-of-office replies do not answer it back.
		Headers: map[string]string{"Auto-Submitted": "auto-generated", "X-Incident-Ticket": t.ID},
	}, nil
}

var severityColor = map[ticket.Severity]string{
	ticket.SeverityCritical: "#b3261e", ticket.SeverityHigh: "#c2410c", ticket.SeverityMedium: "#8a6d00", ticket.SeverityLow: "#4b5563",
}

// AdminMail renders a notification as an email to the responders.
func AdminMail(m ticket.Message, to []string, domain string) (ticket.Mail, error) {
	ref := ticket.Reference(m.TicketID)
	subject := ticket.Clip(m.Subject, 150) + " " + ref
	data := map[string]any{
		"Subject": subject, "Title": m.Subject, "Severity": m.Severity, "Color": severityColor[m.Severity],
		"Body": m.Body, "Ref": ref, "Link": m.Link, "AckLink": m.AckLink,
	}
	var text, html bytes.Buffer
	if err := adminText.Execute(&text, data); err != nil {
		return ticket.Mail{}, err
	}
	if err := adminHTML.Execute(&html, data); err != nil {
		return ticket.Mail{}, err
	}
	id := m.DeliveryID
	if id == "" {
		id = m.TicketID + ".notify"
	}
	return ticket.Mail{
		To: to, Subject: subject, Text: text.String(), HTML: html.String(),
		MessageID:  id + "@" + domain,
		References: []string{ticket.ThreadID(m.TicketID, domain)},
		Headers:    map[string]string{"Auto-Submitted": "auto-generated", "X-Incident-Ticket": m.TicketID, "X-Incident-Delivery-Id": m.DeliveryID, "X-Incident-Severity": string(m.Severity)},
	}, nil
}

// EmailChannel is the admins' email channel: a notification as one email to To.
type EmailChannel struct {
	Mailer ticket.Mailer
	To     []string
	// Server names the mail server in the channel's name (host:port).
	Server string
	Domain string
}

var _ ticket.Publisher = (*EmailChannel)(nil)

// Channel implements ticket.Publisher: "email:<server>#<digest of the recipients>" (the
// addresses themselves stay off the ticket record).
func (c *EmailChannel) Channel() string {
	to := append([]string(nil), c.To...)
	sort.Strings(to)
	sum := sha256.Sum256([]byte(strings.Join(to, ",")))
	return "email:" + c.Server + "#" + hex.EncodeToString(sum[:6])
}

// Publish implements ticket.Publisher.
func (c *EmailChannel) Publish(ctx context.Context, m ticket.Message) error {
	mail, err := AdminMail(m, c.To, c.Domain)
	if err != nil {
		return &ticket.PermanentError{Err: err}
	}
	return c.Mailer.Send(ctx, mail)
}

// MailReporters sends the emails queued for reporters and records each on the ticket: one
// send per notice, recorded at once; failures back off and give up after
// ticket.MaxMailAttempts. The embedded server sends a ticket's mail as soon as it is queued
// and sweeps for what is left; on AWS a scheduled Lambda sweeps every minute.
type MailReporters struct {
	Store  ticket.Store
	Mailer ticket.Mailer
	Config ticket.ConfigSource
	Domain string
	Now    func() time.Time
	Log    *slog.Logger

	busy sync.Map // ticket IDs being sent for in this process
}

// Send sends what is pending for one ticket now.
func (r *MailReporters) Send(ctx context.Context, id string) error {
	if _, loaded := r.busy.LoadOrStore(id, true); loaded {
		return nil // another goroutine of this process is on it
	}
	defer r.busy.Delete(id)
	cfg, err := r.Config.Load(ctx)
	if err != nil {
		return err
	}
	t, err := r.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	for _, n := range t.PendingMail(r.Now()) {
		m, err := ReporterMail(t, n, cfg, r.Domain)
		if err == nil {
			err = r.Mailer.Send(ctx, m)
		}
		_, uerr := r.Store.Update(context.WithoutCancel(ctx), id, func(x *ticket.Ticket) error {
			if err == nil {
				return x.MailSent(n.ID, r.Now())
			}
			return x.MailFailed(n.ID, err.Error(), !ticket.IsTransient(err), r.Now())
		})
		if err != nil {
			r.Log.WarnContext(ctx, "email to the reporter failed", "ticketId", id, "event", n.Event, "err", err)
		} else {
			r.Log.InfoContext(ctx, "emailed the reporter", "ticketId", id, "event", n.Event)
		}
		if uerr != nil {
			return uerr
		}
	}
	return nil
}

// MailSweepResult is what one sweep did.
type MailSweepResult struct {
	Tickets int `json:"tickets"`
}

// Sweep sends what is pending on tickets untouched since before.
func (r *MailReporters) Sweep(ctx context.Context, before time.Time) (MailSweepResult, error) {
	ts, err := r.Store.PendingMail(ctx, before, 100)
	if err != nil {
		return MailSweepResult{}, &ticket.TransientError{Err: err}
	}
	for _, t := range ts {
		if err := r.Send(ctx, t.ID); err != nil {
			r.Log.WarnContext(ctx, "send reporter mail", "ticketId", t.ID, "err", err)
		}
	}
	return MailSweepResult{Tickets: len(ts)}, nil
}

// Handle is the scheduled Lambda's handler: a sweep of everything pending.
func (r *MailReporters) Handle(ctx context.Context, _ map[string]any) (MailSweepResult, error) {
	return r.Sweep(ctx, r.Now())
}
