package ticket

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Intake: tickets that monitoring (the PagerDuty Events API, Alertmanager), heartbeat monitors
// and email file, beside the web form. They may carry a dedup key: while the ticket it names
// is not resolved, another trigger with the same key folds into it (a count and a timeline
// entry, no new notification) instead of filing a second ticket.

// Actor kinds: who did something to a ticket.
const (
	ActorUser        = "user"
	ActorIntegration = "integration"
	ActorSystem      = "system"
)

// Actor names who made a change: a person, an integration (with its ID and name as it was
// then), or the system itself.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Source kinds: where a ticket that did not come from the web form came from.
const (
	SourceEvents       = "events"       // PagerDuty Events API v2 (POST /v2/enqueue)
	SourceAlertmanager = "alertmanager" // Alertmanager's webhook receiver
	SourceHeartbeat    = "heartbeat"    // a heartbeat monitor that missed its interval
	SourceEmail        = "email"        // a message to the support address
)

// Source says where a ticket came from, when not from the web form.
type Source struct {
	Kind            string `json:"kind"`
	IntegrationID   string `json:"integrationId,omitempty"`
	IntegrationName string `json:"integrationName,omitempty"`
	// DedupKey is the key as the sender gave it (Ticket.DedupKey is the scoped one the store
	// indexes).
	DedupKey string `json:"dedupKey,omitempty"`
	// Event is the latest trigger's payload (Events API).
	Event *AlertEvent `json:"event,omitempty"`
	// Sender is the email's sender as checked on arrival.
	Sender *Sender `json:"sender,omitempty"`
	// LastSeenAt is when the latest trigger or message arrived.
	LastSeenAt time.Time `json:"lastSeenAt,omitzero"`
}

// AlertEvent is what a monitoring system said about the problem, PagerDuty's payload fields
// kept as sent (custom details bounded, see MaxCustomDetails).
type AlertEvent struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source,omitempty"`
	Severity      string          `json:"severity,omitempty"`
	Timestamp     time.Time       `json:"timestamp,omitzero"`
	Component     string          `json:"component,omitempty"`
	Group         string          `json:"group,omitempty"`
	Class         string          `json:"class,omitempty"`
	CustomDetails json.RawMessage `json:"customDetails,omitempty"`
	Links         []Link          `json:"links,omitempty"`
	Images        []Image         `json:"images,omitempty"`
	Client        string          `json:"client,omitempty"`
	ClientURL     string          `json:"clientUrl,omitempty"`
}

// Link is a link an alert carries.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Image is an image an alert carries (a graph, usually).
type Image struct {
	Src  string `json:"src"`
	Href string `json:"href,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// Sender is an email's sender and what could be verified about it.
type Sender struct {
	Address string `json:"address"`
	// SPF is the SPF verdict for the sending host (RFC 7208: pass, fail, softfail, neutral,
	// none, temperror, permerror; or "unchecked"). Anything but pass is shown as unverified.
	SPF       string `json:"spf"`
	MessageID string `json:"messageId,omitempty"`
}

// Verified reports whether the sender's domain vouched for the sending host.
func (s *Sender) Verified() bool { return s != nil && s.SPF == "pass" }

// Alert is one alert of an Alertmanager group, as its webhook sent it.
type Alert struct {
	Fingerprint  string            `json:"fingerprint"`
	Status       string            `json:"status"` // firing | resolved
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorUrl,omitempty"`
}

// Attachment is what is kept of an email's attachment: its name, type and size, never its
// content.
type Attachment struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int    `json:"size"`
}

// Intake limits.
const (
	MaxDedupKey = 255
	// MaxCustomDetails bounds the custom details kept on a ticket (an event may carry up to
	// 512 KiB; a DynamoDB item holds 400 KB).
	MaxCustomDetails = 16 << 10
	MaxAlerts        = 100
	MaxLinks         = 20
	MaxAttachments   = 20
	// MaxMailIn bounds the inbound message IDs a ticket remembers to drop redeliveries.
	MaxMailIn = 50
)

// More timeline entry types.
const (
	EventRetriggered   = "retriggered"
	EventAlertsChanged = "alerts.changed"
	EventReplied       = "replied"          // a responder answered the reporter
	EventReporterReply = "reporter.replied" // the reporter answered by email
	EventMailSent      = "mail.sent"
	EventMailFailed    = "mail.failed"
)

// Intake is a ticket filed by a machine or by email: like NewTicket, but the reporter's email
// is optional (monitoring has none) and it may carry a dedup key, its source and alerts.
type Intake struct {
	Title       string
	Description string
	Severity    Severity
	Category    string
	Reporter    Reporter
	// DedupKey, when set, folds later triggers into this ticket while it is not resolved;
	// scoped by the caller (see DedupScope).
	DedupKey string
	Source   *Source
	Alerts   []Alert
	By       Actor
	// Attachments lists what an email carried (not stored).
	Attachments []Attachment
}

// DedupScope is the key a store indexes for a sender's dedup key: keys are per integration,
// as PagerDuty's are per routing key.
func DedupScope(scope, key string) string { return scope + "/" + key }

// Clip shortens s to at most n characters, marking the cut with an ellipsis.
func Clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// Validate checks an intake as NewTicket.Validate does, the reporter's email optional.
func (in *Intake) Validate() error {
	n := NewTicket{Title: strings.TrimSpace(in.Title), Description: strings.TrimSpace(in.Description), Severity: in.Severity, Category: in.Category, Reporter: in.Reporter}
	email := n.Reporter.Email == ""
	if email {
		n.Reporter.Email = "intake@example.com" // stands in for "none" while the rest is checked
	}
	n.Normalize()
	if err := n.Validate(); err != nil {
		return err
	}
	if len(in.DedupKey) > MaxDedupKey+64 {
		return &Error{Code: EINVALID, Message: "The dedup key is too long.", Fields: []FieldError{{Field: "dedup_key", Message: "At most 255 characters."}}}
	}
	in.Title, in.Description, in.Severity, in.Category, in.Reporter = n.Title, n.Description, n.Severity, n.Category, n.Reporter
	if email {
		in.Reporter.Email = ""
	}
	return nil
}

// NewFromIntake builds a fresh ticket from a validated intake.
func NewFromIntake(id string, in Intake, now time.Time) *Ticket {
	t := New(id, NewTicket{Title: in.Title, Description: in.Description, Severity: in.Severity, Category: in.Category, Reporter: in.Reporter}, now)
	t.DedupKey = in.DedupKey
	t.Occurrences = 1
	if in.Source != nil {
		s := *in.Source
		s.LastSeenAt = now.UTC()
		t.Source = &s
	}
	t.Alerts = in.Alerts
	t.Attachments = in.Attachments
	t.Timeline[0].Actor = actorOf(in.By)
	if in.Source != nil && in.Source.IntegrationName != "" {
		t.Timeline[0].Message = "Ticket filed by " + in.Source.IntegrationName + "."
	}
	if in.Source != nil && in.Source.Sender != nil && in.Source.Sender.MessageID != "" {
		t.rememberMail(in.Source.Sender.MessageID)
	}
	return t
}

func actorOf(a Actor) *Actor {
	if a.Kind == "" {
		return nil
	}
	return &a
}

// Open reports whether the ticket still takes folds (it is not resolved).
func (t *Ticket) Open() bool { return t.Status != StatusResolved }

// ErrNotOpen is returned by Fold for a resolved ticket: its dedup key no longer names it, and
// a store then files a new ticket instead.
var ErrNotOpen = Errorf(ECONFLICT, "The ticket is resolved.")

// Fold records another trigger of the problem this ticket is about: the count goes up and the
// timeline says so; nobody is notified again. The event, when given, replaces the latest.
func (t *Ticket) Fold(by Actor, summary string, event *AlertEvent, now time.Time) error {
	if !t.Open() {
		return ErrNotOpen
	}
	if t.Occurrences == 0 {
		t.Occurrences = 1
	}
	t.Occurrences++
	if t.Source != nil {
		t.Source.LastSeenAt = now.UTC()
		if event != nil {
			t.Source.Event = event
		}
	}
	msg := fmt.Sprintf("Triggered again (%d times in all).", t.Occurrences)
	if summary != "" && summary != t.Title {
		msg = fmt.Sprintf("Triggered again (%d times in all): %s", t.Occurrences, Clip(summary, 300))
	}
	t.AddTimelineBy(now, EventRetriggered, msg, by)
	return nil
}

// AddTimelineBy is AddTimeline naming who did it.
func (t *Ticket) AddTimelineBy(at time.Time, typ, msg string, by Actor) {
	t.AddTimeline(at, typ, msg)
	t.Timeline[len(t.Timeline)-1].Actor = actorOf(by)
}

// TransitionBy is Transition by an actor; resolving queues the reporter's email ("resolved").
func (t *Ticket) TransitionBy(to Status, by Actor, now time.Time) error {
	if err := t.Transition(to, now); err != nil {
		return err
	}
	t.Timeline[len(t.Timeline)-1].Actor = actorOf(by)
	if to == StatusResolved {
		t.QueueMail(MailResolved, "", now)
	}
	return nil
}

// SetAlerts replaces the alerts of an Alertmanager group with what its latest notification
// listed, keeping at most MaxAlerts (firing ones first). It reports whether anything changed.
func (t *Ticket) SetAlerts(alerts []Alert) bool {
	firing := make([]Alert, 0, len(alerts))
	var resolved []Alert
	for _, a := range alerts {
		if a.Status == "firing" {
			firing = append(firing, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	next := append(firing, resolved...)
	if len(next) > MaxAlerts {
		next = next[:MaxAlerts]
	}
	before, _ := json.Marshal(t.Alerts)
	after, _ := json.Marshal(next)
	t.Alerts = next
	return string(before) != string(after)
}

// FiringAlerts counts the alerts still firing.
func (t *Ticket) FiringAlerts() int {
	n := 0
	for _, a := range t.Alerts {
		if a.Status == "firing" {
			n++
		}
	}
	return n
}

// Reply is a responder answering the reporter: on the timeline, and by email when the
// reporter gave an address.
func (t *Ticket) Reply(text string, by Actor, now time.Time) error {
	text = strings.TrimSpace(text)
	switch l := utf8.RuneCountInString(text); {
	case l == 0:
		return &Error{Code: EINVALID, Message: "The reply has invalid fields.", Fields: []FieldError{{Field: "message", Message: "A message is required."}}}
	case l > MaxReply:
		return &Error{Code: EINVALID, Message: "The reply has invalid fields.", Fields: []FieldError{{Field: "message", Message: "A message must be at most 5000 characters."}}}
	case !utf8.ValidString(text) || strings.ContainsRune(text, 0):
		return &Error{Code: EINVALID, Message: "The reply has invalid fields.", Fields: []FieldError{{Field: "message", Message: "Text must be valid UTF-8 without NUL characters."}}}
	}
	t.AddTimelineBy(now, EventReplied, text, by)
	t.QueueMail(MailAnswered, text, now)
	return nil
}

// MaxReply bounds a reply's text, either way.
const MaxReply = 5000

// ReporterReplied appends what the reporter answered by email; a resolved ticket opens again.
// A message already appended (the same Message-ID: a redelivery) is ErrNoChange.
func (t *Ticket) ReporterReplied(messageID, text string, attachments []Attachment, now time.Time) error {
	if messageID != "" && t.seenMail(messageID) {
		return ErrNoChange
	}
	t.rememberMail(messageID)
	by := Actor{Kind: ActorUser, Name: t.Reporter.Name}
	if text = strings.TrimSpace(text); text == "" {
		text = "(no text)"
	}
	t.AddTimelineBy(now, EventReporterReply, Clip(text, MaxReply), by)
	for _, a := range attachments {
		if len(t.Attachments) < MaxAttachments {
			t.Attachments = append(t.Attachments, a)
		}
	}
	if t.Status == StatusResolved {
		t.Transition(StatusOpen, now)
		t.Timeline[len(t.Timeline)-1].Actor = &by
	}
	return nil
}

func (t *Ticket) seenMail(id string) bool {
	h := shortHash(id)
	for _, s := range t.MailIn {
		if s == h {
			return true
		}
	}
	return false
}

func (t *Ticket) rememberMail(id string) {
	if id == "" {
		return
	}
	t.MailIn = append(t.MailIn, shortHash(id))
	if over := len(t.MailIn) - MaxMailIn; over > 0 {
		t.MailIn = t.MailIn[over:]
	}
}

// cloneIntake deep-copies the intake fields of c (a shallow copy of t).
func (c *Ticket) cloneIntake() {
	if c.Source != nil {
		s := *c.Source
		if s.Event != nil {
			e := *s.Event
			s.Event = &e
		}
		if s.Sender != nil {
			x := *s.Sender
			s.Sender = &x
		}
		c.Source = &s
	}
	c.Alerts = append([]Alert(nil), c.Alerts...)
	c.Attachments = append([]Attachment(nil), c.Attachments...)
	c.Mail = append([]MailNotice(nil), c.Mail...)
	c.MailIn = append([]string(nil), c.MailIn...)
}

// publicIntake strips from the public view what only responders may see: alert labels and
// details (they name infrastructure), the mail bookkeeping, the dedup key.
func (p *Ticket) publicIntake() {
	if p.Source != nil {
		p.Source = &Source{Kind: p.Source.Kind, IntegrationName: p.Source.IntegrationName}
	}
	p.DedupKey, p.Alerts, p.MailIn = "", nil, nil
	mail := make([]MailNotice, len(p.Mail))
	for i, m := range p.Mail {
		mail[i] = MailNotice{Event: m.Event, Status: m.Status, SentAt: m.SentAt}
	}
	if len(mail) == 0 {
		mail = nil
	}
	p.Mail = mail
}

// EmailProblem says what is wrong with an address as a reporter's email, or "".
func EmailProblem(s string) string { return checkEmail(s) }
