// Package ticket is the domain of Incident Manager: the Ticket, its validation limits, the
// application error codes, and the ports (Store, Starter, Publisher, ConfigSource,
// ExecutionStore) that adapters implement. It imports no AWS, SQL or HTTP package, so both the
// embedded server and the Lambdas share it unchanged.
package ticket

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Limits on what a reporter may send. They are checked here, once, and mirrored by the web form.
const (
	MaxTitle       = 200
	MaxDescription = 10000
	MaxCategory    = 64
	MaxName        = 100
	MaxEmail       = 254
	// MaxTimeline bounds the history kept on one ticket; the oldest entries are dropped first.
	MaxTimeline = 50
)

// Severity says how urgent a ticket is; it drives notification routing.
type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Severities lists every severity, most urgent first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return slices.Contains(Severities, s) }

// Status is where a ticket is in its lifecycle.
type Status string

const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Statuses lists every lifecycle status in order.
var Statuses = []Status{StatusOpen, StatusAcknowledged, StatusResolved}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Reporter is the person who filed the ticket.
type Reporter struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// TimelineEntry is one thing that happened to a ticket.
type TimelineEntry struct {
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
	// Actor is who did it, when known (see intake.go).
	Actor *Actor `json:"actor,omitempty"`
}

// Timeline entry types.
const (
	EventCreated             = "created"
	EventNotifyDelivered     = "notification.delivered"
	EventNotifyChannelFailed = "notification.channel_failed"
	EventNotifyRestarted     = "notification.restarted"
	EventNotifyRetried       = "notification.retried"
	EventNotifySent          = "notification.sent"
	EventNotifyPartial       = "notification.partial"
	EventNotifyFailed        = "notification.failed"
	EventStatusChanged       = "status.changed"
)

// Ticket is one reported problem.
type Ticket struct {
	ID           string          `json:"id"`
	Title        string          `json:"title"`
	Description  string          `json:"description"`
	Severity     Severity        `json:"severity"`
	Category     string          `json:"category"`
	Reporter     Reporter        `json:"reporter"`
	Status       Status          `json:"status"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
	Version      int             `json:"version"`
	Notification Notification    `json:"notification"`
	Timeline     []TimelineEntry `json:"timeline"`

	// Intake (intake.go, mail.go): set on tickets that monitoring, heartbeats or email filed,
	// and on the emails to the reporter.
	DedupKey    string       `json:"dedupKey,omitempty"`
	Occurrences int          `json:"occurrences,omitempty"`
	Source      *Source      `json:"source,omitempty"`
	Alerts      []Alert      `json:"alerts,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Mail        []MailNotice `json:"mail,omitempty"`
	// MailIn holds digests of the inbound Message-IDs appended, to drop redeliveries.
	MailIn []string `json:"mailIn,omitempty"`
}

// AddTimeline appends an entry, keeping at most MaxTimeline (the oldest go first, but the
// creation entry is kept so the ticket's origin stays visible).
func (t *Ticket) AddTimeline(at time.Time, typ, msg string) {
	t.Timeline = append(t.Timeline, TimelineEntry{At: at.UTC(), Type: typ, Message: msg})
	if over := len(t.Timeline) - MaxTimeline; over > 0 {
		t.Timeline = append(t.Timeline[:1:1], t.Timeline[1+over:]...)
	}
}

// Public returns what anyone holding the ticket's ID may see: everything the reporter sent and
// how far the ticket got, without the delivery internals a responder needs (channel names can
// embed webhook secrets; errors can name infrastructure). Each channel is shown by its kind
// and status only, so a partial delivery reads as partial.
func (t *Ticket) Public() *Ticket {
	p := *t
	n := t.Notification
	p.Notification = Notification{Status: n.Status, Attempts: n.Attempts, Runs: n.Runs, FinishedAt: n.FinishedAt, Channels: make([]ChannelDelivery, len(n.Channels))}
	for i, c := range n.Channels {
		p.Notification.Channels[i] = ChannelDelivery{Channel: c.Kind(), Status: c.Status, Attempts: c.Attempts, SentAt: c.SentAt}
	}
	p.Timeline = make([]TimelineEntry, len(t.Timeline))
	for i, e := range t.Timeline {
		switch e.Type {
		case EventNotifyDelivered:
			e.Message = "Delivered to a notification channel."
		case EventNotifyChannelFailed:
			e.Message = "A notification channel could not be reached."
		case EventNotifyPartial:
			e.Message = "Some of the responders' channels were reached, not all."
		case EventNotifyFailed:
			e.Message = "The responders could not be notified automatically."
		}
		p.Timeline[i] = e
	}
	p.publicIntake()
	return &p
}

// NewTicket is what a reporter submits.
type NewTicket struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Severity    Severity `json:"severity"`
	Category    string   `json:"category"`
	Reporter    Reporter `json:"reporter"`
}

// Normalize puts every field in its stored form (the text policy in text.go: NFC, a
// description's line breaks as LF, surrounding white space trimmed) and applies defaults.
func (n *NewTicket) Normalize() {
	n.Title = normalizeText(n.Title, false)
	n.Description = normalizeText(n.Description, true)
	n.Category = normalizeText(n.Category, false)
	n.Reporter.Name = normalizeText(n.Reporter.Name, false)
	n.Reporter.Email = normalizeText(n.Reporter.Email, false)
	n.Severity = Severity(strings.ToLower(strings.TrimSpace(string(n.Severity))))
	if n.Severity == "" {
		n.Severity = SeverityMedium
	}
}

// Validate checks every field against the text policy and its limits and reports all
// problems at once (one per field), as an EINVALID *Error whose Fields name each offending
// field by its JSON path.
func (n *NewTicket) Validate() error {
	var fe []FieldError
	add := func(field, msg string) {
		if msg != "" {
			fe = append(fe, FieldError{Field: field, Message: msg})
		}
	}
	add("title", checkText(n.Title, titleRule))
	add("description", checkText(n.Description, descriptionRule))
	if !n.Severity.Valid() {
		add("severity", "Severity must be one of critical, high, medium, low.")
	}
	add("category", checkText(n.Category, categoryRule))
	add("reporter.name", checkText(n.Reporter.Name, nameRule))
	add("reporter.email", checkEmail(n.Reporter.Email))
	if len(fe) > 0 {
		return &Error{Code: EINVALID, Message: "The ticket has invalid fields.", Fields: fe}
	}
	return nil
}

func checkEmail(s string) string {
	if s == "" {
		return "Email is required."
	}
	if len(s) > MaxEmail {
		return "Email must be at most 254 characters."
	}
	if msg := checkEmailText(s); msg != "" {
		return msg
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "Email must be a valid address such as name@example.com."
	}
	return ""
}

// New builds a fresh ticket from a validated submission.
func New(id string, n NewTicket, now time.Time) *Ticket {
	now = now.UTC()
	t := &Ticket{
		ID:           id,
		Title:        n.Title,
		Description:  n.Description,
		Severity:     n.Severity,
		Category:     n.Category,
		Reporter:     n.Reporter,
		Status:       StatusOpen,
		CreatedAt:    now,
		UpdatedAt:    now,
		Version:      1,
		Notification: NewNotification(),
	}
	t.AddTimeline(now, EventCreated, "Ticket filed.")
	return t
}

// Transition moves a ticket to a new lifecycle status. Every move between different statuses
// is allowed (resolved → open is a reopen); moving to the same status is a conflict so that a
// double click does not add noise to the timeline.
func (t *Ticket) Transition(to Status, now time.Time) error {
	if !to.Valid() {
		return &Error{Code: EINVALID, Message: "The change has invalid fields.", Fields: []FieldError{{Field: "status", Message: "Status must be one of open, acknowledged, resolved."}}}
	}
	if t.Status == to {
		return Errorf(ECONFLICT, "The ticket is already %s.", to)
	}
	from := t.Status
	t.Status = to
	t.AddTimeline(now, EventStatusChanged, string(from)+" → "+string(to))
	return nil
}

// Clone returns a deep copy of t: changing one never changes the other.
func (t *Ticket) Clone() *Ticket {
	c := *t
	c.Timeline = append([]TimelineEntry(nil), t.Timeline...)
	c.Notification.Channels = append([]ChannelDelivery(nil), t.Notification.Channels...)
	c.cloneIntake()
	if t.Notification.Channels != nil && c.Notification.Channels == nil {
		c.Notification.Channels = []ChannelDelivery{}
	}
	if t.Timeline != nil && c.Timeline == nil {
		c.Timeline = []TimelineEntry{}
	}
	return &c
}
