package intake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Event is a PagerDuty Events API v2 event (https://developer.pagerduty.com/docs/events-api-v2/),
// the format Alertmanager's pagerduty_configs, Grafana's PagerDuty contact point and many other
// tools send.
type Event struct {
	RoutingKey  string         `json:"routing_key"`
	EventAction string         `json:"event_action"`
	DedupKey    string         `json:"dedup_key"`
	Payload     *EventPayload  `json:"payload"`
	Links       []ticket.Link  `json:"links"`
	Images      []ticket.Image `json:"images"`
	Client      string         `json:"client"`
	ClientURL   string         `json:"client_url"`
}

// EventPayload is a trigger's description of the problem.
type EventPayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      string          `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// Event actions.
const (
	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// MaxEvent is the largest event PagerDuty accepts, and so do we.
const MaxEvent = 512 << 10

// MaxSummary is the longest summary PagerDuty keeps; longer ones are cut, as there.
const MaxSummary = 1024

// InvalidEvent lists what is wrong with an event, in PagerDuty's words.
type InvalidEvent struct{ Errors []string }

func (e *InvalidEvent) Error() string { return "invalid event: " + strings.Join(e.Errors, "; ") }

// ErrUnknownKey is an event whose routing key names no events integration.
var ErrUnknownKey = &InvalidEvent{Errors: []string{"Invalid routing key"}}

// SeverityOf maps PagerDuty's severities to ours: critical→critical, error→high,
// warning→medium, info→low.
func SeverityOf(s string) (ticket.Severity, bool) {
	switch s {
	case "critical":
		return ticket.SeverityCritical, true
	case "error":
		return ticket.SeverityHigh, true
	case "warning":
		return ticket.SeverityMedium, true
	case "info":
		return ticket.SeverityLow, true
	}
	return "", false
}

// Validate checks an event as PagerDuty does, every problem at once.
func (e *Event) Validate() error {
	var errs []string
	if strings.TrimSpace(e.RoutingKey) == "" {
		errs = append(errs, "'routing_key' is missing or blank")
	} else if len(e.RoutingKey) != ticket.KeyLength {
		errs = append(errs, fmt.Sprintf("Length of 'routing_key' is incorrect (should be %d characters)", ticket.KeyLength))
	}
	if utf8.RuneCountInString(e.DedupKey) > ticket.MaxDedupKey {
		errs = append(errs, "'dedup_key' is too long (at most 255 characters)")
	}
	switch e.EventAction {
	case ActionTrigger:
		p := e.Payload
		if p == nil {
			errs = append(errs, "'payload' is missing")
			break
		}
		if strings.TrimSpace(p.Summary) == "" {
			errs = append(errs, "'payload.summary' is missing or blank")
		}
		if strings.TrimSpace(p.Source) == "" {
			errs = append(errs, "'payload.source' is missing or blank")
		}
		if _, ok := SeverityOf(p.Severity); !ok {
			if p.Severity == "" {
				errs = append(errs, "'payload.severity' is missing or blank")
			} else {
				errs = append(errs, "'payload.severity' is invalid (must be one of critical, error, warning, info)")
			}
		}
		if p.Timestamp != "" {
			if _, ok := parseTimestamp(p.Timestamp); !ok {
				errs = append(errs, "'payload.timestamp' is not a valid ISO 8601 date and time")
			}
		}
		if len(p.CustomDetails) > 0 && !json.Valid(p.CustomDetails) {
			errs = append(errs, "'payload.custom_details' is not valid JSON")
		}
	case ActionAcknowledge, ActionResolve:
		if strings.TrimSpace(e.DedupKey) == "" {
			errs = append(errs, "'dedup_key' is missing or blank (it is required to "+e.EventAction+")")
		}
	case "":
		errs = append(errs, "'event_action' is missing or blank")
	default:
		errs = append(errs, "'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
	}
	for _, s := range []string{e.DedupKey, e.Client} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			errs = append(errs, "Text must be valid UTF-8 without NUL characters")
			break
		}
	}
	if len(errs) > 0 {
		return &InvalidEvent{Errors: errs}
	}
	return nil
}

// Enqueue handles one event: a trigger files a ticket or folds into the open one with its
// dedup key (made up when the event has none); acknowledge and resolve change that ticket,
// with the integration as the actor, and are no-ops when no such ticket is open. It returns
// the dedup key.
func (s *Service) Enqueue(ctx context.Context, e Event) (string, error) {
	if err := e.Validate(); err != nil {
		return "", err
	}
	integ, err := s.Integrations.IntegrationByKey(ctx, ticket.KeyHash(e.RoutingKey))
	if ticket.ErrorCode(err) == ticket.ENOTFOUND || (err == nil && integ.Type != ticket.IntegrationEvents) {
		return "", ErrUnknownKey
	}
	if err != nil {
		return "", err
	}
	now := s.now()
	by := integ.Actor()
	switch e.EventAction {
	case ActionAcknowledge:
		_, err = s.change(ctx, ticket.DedupScope(integ.ID, e.DedupKey), by, transition(ticket.StatusAcknowledged, by, now))
		return e.DedupKey, err
	case ActionResolve:
		_, err = s.change(ctx, ticket.DedupScope(integ.ID, e.DedupKey), by, transition(ticket.StatusResolved, by, now))
		return e.DedupKey, err
	}
	dedup := e.DedupKey
	if dedup == "" {
		dedup = uuid.NewString()
	}
	ev := alertEvent(e)
	sev, _ := SeverityOf(e.Payload.Severity)
	category := e.Payload.Class
	if category == "" {
		category = "monitoring"
	}
	in := ticket.Intake{
		Title:       ticket.Clip(oneLine(e.Payload.Summary), ticket.MaxTitle),
		Description: describe(ev),
		Severity:    sev,
		Category:    ticket.Clip(oneLine(category), ticket.MaxCategory),
		Reporter:    ticket.Reporter{Name: ticket.Clip(integ.Name, ticket.MaxName)},
		DedupKey:    ticket.DedupScope(integ.ID, dedup),
		Source:      &ticket.Source{Kind: ticket.SourceEvents, IntegrationID: integ.ID, IntegrationName: integ.Name, DedupKey: dedup, Event: ev},
		By:          by,
	}
	_, _, err = s.file(ctx, in, func(x *ticket.Ticket) error { return x.Fold(by, ev.Summary, ev, now) })
	return dedup, err
}

// timestampLayouts are the ISO 8601 forms senders use (PagerDuty's own example writes the
// offset without a colon).
var timestampLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"}

func parseTimestamp(s string) (time.Time, bool) {
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// oneLine flattens line breaks and control characters to spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
}

// alertEvent keeps what a trigger said, bounded.
func alertEvent(e Event) *ticket.AlertEvent {
	p := e.Payload
	ev := &ticket.AlertEvent{
		Summary:   ticket.Clip(oneLine(p.Summary), MaxSummary),
		Source:    ticket.Clip(oneLine(p.Source), 255),
		Severity:  p.Severity,
		Component: ticket.Clip(oneLine(p.Component), 255),
		Group:     ticket.Clip(oneLine(p.Group), 255),
		Class:     ticket.Clip(oneLine(p.Class), 255),
		Client:    ticket.Clip(oneLine(e.Client), 255),
		ClientURL: ticket.Clip(e.ClientURL, 2048),
	}
	if ts, ok := parseTimestamp(p.Timestamp); ok {
		ev.Timestamp = ts.UTC()
	}
	if d := bytes.TrimSpace(p.CustomDetails); len(d) > 0 && string(d) != "null" {
		if len(d) > ticket.MaxCustomDetails {
			// Kept as a JSON string of its beginning: still valid JSON, visibly cut.
			cut, _ := json.Marshal(ticket.Clip(string(d[:ticket.MaxCustomDetails]), ticket.MaxCustomDetails) + " [cut: the details were longer]")
			d = cut
		}
		ev.CustomDetails = json.RawMessage(d)
	}
	for _, l := range e.Links {
		if len(ev.Links) < ticket.MaxLinks && l.Href != "" {
			ev.Links = append(ev.Links, ticket.Link{Href: ticket.Clip(l.Href, 2048), Text: ticket.Clip(oneLine(l.Text), 255)})
		}
	}
	for _, im := range e.Images {
		if len(ev.Images) < ticket.MaxLinks && im.Src != "" {
			ev.Images = append(ev.Images, ticket.Image{Src: ticket.Clip(im.Src, 2048), Href: ticket.Clip(im.Href, 2048), Alt: ticket.Clip(oneLine(im.Alt), 255)})
		}
	}
	return ev
}

// describe is a trigger as a ticket description: the summary, where it comes from, the
// custom details and links.
func describe(ev *ticket.AlertEvent) string {
	var b strings.Builder
	b.WriteString(ev.Summary)
	b.WriteString("\n")
	for _, f := range []struct{ k, v string }{{"Source", ev.Source}, {"Component", ev.Component}, {"Group", ev.Group}, {"Class", ev.Class}, {"Sent by", ev.Client}} {
		if f.v != "" {
			fmt.Fprintf(&b, "\n%s: %s", f.k, f.v)
		}
	}
	if !ev.Timestamp.IsZero() {
		fmt.Fprintf(&b, "\nAt: %s", ev.Timestamp.Format(time.RFC3339))
	}
	if len(ev.CustomDetails) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, ev.CustomDetails, "", "  ") == nil {
			fmt.Fprintf(&b, "\n\nDetails:\n%s", pretty.String())
		}
	}
	for _, l := range ev.Links {
		if l.Text != "" {
			fmt.Fprintf(&b, "\n%s: %s", l.Text, l.Href)
		} else {
			fmt.Fprintf(&b, "\nLink: %s", l.Href)
		}
	}
	return ticket.Clip(b.String(), ticket.MaxDescription)
}
