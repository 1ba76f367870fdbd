package ticket

import (
	"context"
	"fmt"
	"time"
)

// Reporter mail: the reporter is told by email when their ticket is filed (its reference and
// status link), answered and resolved. Each email is a notice on the ticket, queued in the
// same write as the change it tells of, then sent and recorded, like a notification channel:
// the ticket record says what reached the reporter.

// Mail events.
const (
	MailFiled    = "filed"
	MailAnswered = "answered"
	MailResolved = "resolved"
)

// MaxMailAttempts bounds the sends of one notice; then it is FAILED.
const MaxMailAttempts = 5

// maxMailNotices bounds the notices kept on a ticket (settled ones go first).
const maxMailNotices = 30

// MailNotice is one email to the reporter and how far it got.
type MailNotice struct {
	// ID is stable across retries: the email's Message-ID and delivery ID derive from it.
	ID        string             `json:"id"`
	Event     string             `json:"event"`
	Status    NotificationStatus `json:"status"` // PENDING, SENT or FAILED
	Attempts  int                `json:"attempts,omitempty"`
	LastError string             `json:"lastError,omitempty"`
	QueuedAt  time.Time          `json:"queuedAt,omitzero"`
	SentAt    time.Time          `json:"sentAt,omitzero"`
	// NotBefore is when a failed send may be tried again (backing off).
	NotBefore time.Time `json:"notBefore,omitzero"`
	// Text is what a responder answered (event answered).
	Text string `json:"text,omitempty"`
}

// QueueMail queues an email to the reporter, when they gave an address.
func (t *Ticket) QueueMail(event, text string, now time.Time) {
	if t.Reporter.Email == "" {
		return
	}
	t.Mail = append(t.Mail, MailNotice{
		ID:       fmt.Sprintf("%s.%s.%d", t.ID, event, len(t.Mail)+1),
		Event:    event,
		Status:   NotificationPending,
		QueuedAt: now.UTC(),
		Text:     text,
	})
	for len(t.Mail) > maxMailNotices {
		drop := 0
		for i, m := range t.Mail {
			if m.Status != NotificationPending {
				drop = i
				break
			}
		}
		t.Mail = append(t.Mail[:drop], t.Mail[drop+1:]...)
	}
}

// HasPendingMail reports whether an email to the reporter still waits to be sent.
func (t *Ticket) HasPendingMail() bool {
	for _, m := range t.Mail {
		if m.Status == NotificationPending {
			return true
		}
	}
	return false
}

// PendingMail returns the notices to send at now, oldest first (not those backing off).
func (t *Ticket) PendingMail(now time.Time) []MailNotice {
	var out []MailNotice
	for _, m := range t.Mail {
		if m.Status == NotificationPending && !now.Before(m.NotBefore) {
			out = append(out, m)
		}
	}
	return out
}

func (t *Ticket) notice(id string) *MailNotice {
	for i := range t.Mail {
		if t.Mail[i].ID == id {
			return &t.Mail[i]
		}
	}
	return nil
}

// MailSent records that the mail server accepted the notice. Recording it twice is ErrNoChange.
func (t *Ticket) MailSent(id string, now time.Time) error {
	m := t.notice(id)
	if m == nil || m.Status == NotificationSent {
		return ErrNoChange
	}
	m.Status, m.SentAt, m.LastError = NotificationSent, now.UTC(), ""
	m.Attempts++
	t.AddTimelineBy(now, EventMailSent, "Emailed the reporter ("+m.Event+").", Actor{Kind: ActorSystem})
	return nil
}

// MailFailed records a failed send: permanent, or the last attempt allowed, gives it up.
func (t *Ticket) MailFailed(id, reason string, permanent bool, now time.Time) error {
	m := t.notice(id)
	if m == nil || m.Status != NotificationPending {
		return ErrNoChange
	}
	m.Attempts++
	m.LastError = reason
	m.NotBefore = now.Add(time.Duration(30<<min(m.Attempts, 6)) * time.Second).UTC()
	if permanent || m.Attempts >= MaxMailAttempts {
		m.Status = NotificationFailed
		t.AddTimelineBy(now, EventMailFailed, "Could not email the reporter ("+m.Event+"): "+reason, Actor{Kind: ActorSystem})
	}
	return nil
}

// Mail is one email, rendered: what a Mailer sends.
type Mail struct {
	To      []string
	Subject string
	Text    string
	HTML    string
	// MessageID is the RFC 5322 Message-ID, without angle brackets; References ties replies to
	// the ticket (every email about a ticket names the same reference ID).
	MessageID  string
	References []string
	// Headers are more headers (X-Incident-Ticket, Auto-Submitted), each a single line.
	Headers map[string]string
}

// Mailer sends one email. Failures are *TransientError (worth retrying: 4xx replies,
// connection failures) or *PermanentError (5xx replies, a refused address).
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// RefPrefix starts a ticket's reference in email subjects: "[#<ticket ID>]".
const RefPrefix = "[#"

// Reference is how a ticket is named in email subjects; a reply that keeps it threads.
func Reference(id string) string { return RefPrefix + id + "]" }

// ThreadID is the Message-ID every email about the ticket lists in References (without angle
// brackets), so that a reply names the ticket even with its subject changed.
func ThreadID(id, domain string) string { return "ticket." + id + "@" + domain }
