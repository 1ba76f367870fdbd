package ticket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"
)

// Integrations are how machines file tickets: each has a secret key (a PagerDuty routing key,
// an Alertmanager bearer token, a heartbeat URL's last segment), shown once when made or
// rotated and stored only as its SHA-256. Every ticket an integration files names it.

// IntegrationType says how an integration's key is used.
type IntegrationType string

const (
	// IntegrationEvents takes PagerDuty Events API v2 events (POST /v2/enqueue, routing_key)
	// and Alertmanager webhooks (POST /v1/alertmanager, bearer key).
	IntegrationEvents IntegrationType = "events"
	// IntegrationHeartbeat is a heartbeat monitor: POST /v1/heartbeat/{key} resets it; a
	// missed interval files a ticket, and the next ping resolves it.
	IntegrationHeartbeat IntegrationType = "heartbeat"
)

// Integration limits.
const (
	MaxIntegrationName = 100
	MinHeartbeat       = 10 * time.Second
	MaxHeartbeat       = 30 * 24 * time.Hour
	// KeyLength is the length of a key: 32 hex characters, like PagerDuty's integration keys
	// (Alertmanager's pagerduty_configs and Grafana accept those as they are).
	KeyLength = 32
)

// Heartbeat states.
const (
	HeartbeatWaiting = "waiting" // made, no ping yet: nothing is due
	HeartbeatUp      = "up"      // pinged within its interval
	HeartbeatDown    = "down"    // missed its interval; TicketID is the ticket it filed
)

// Integration is one source of machine-filed tickets.
type Integration struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Type IntegrationType `json:"type"`
	// KeyHash is the hex SHA-256 of the key; the key itself is never stored.
	KeyHash string `json:"keyHash"`
	// KeyHint is the key's last four characters, to tell keys apart.
	KeyHint string `json:"keyHint"`
	// Severity is the severity of the tickets a heartbeat files (default high).
	Severity  Severity   `json:"severity,omitempty"`
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Version   int        `json:"version"`
}

// Heartbeat is a monitor's schedule and state.
type Heartbeat struct {
	IntervalSeconds int       `json:"intervalSeconds"`
	State           string    `json:"state"`
	LastPingAt      time.Time `json:"lastPingAt,omitzero"`
	// DueAt is when the next ping must arrive by (zero while waiting or down).
	DueAt time.Time `json:"dueAt,omitzero"`
	// TicketID is the ticket filed when it went down, until a ping resolves it.
	TicketID string `json:"ticketId,omitempty"`
}

// Interval is the heartbeat's interval.
func (h *Heartbeat) Interval() time.Duration { return time.Duration(h.IntervalSeconds) * time.Second }

// NewIntegration is what an admin asks for.
type NewIntegration struct {
	Name     string          `json:"name"`
	Type     IntegrationType `json:"type"`
	Interval string          `json:"interval"` // heartbeats: a Go duration, "5m"
	Severity Severity        `json:"severity"`
}

// IntegrationChange is a rename, a new interval or severity; empty fields stay as they are.
type IntegrationChange struct {
	Name     string   `json:"name"`
	Interval string   `json:"interval"`
	Severity Severity `json:"severity"`
}

func checkName(name string, fe []FieldError) (string, []FieldError) {
	name = strings.TrimSpace(name)
	switch l := utf8.RuneCountInString(name); {
	case l == 0:
		fe = append(fe, FieldError{Field: "name", Message: "Name is required."})
	case l > MaxIntegrationName:
		fe = append(fe, FieldError{Field: "name", Message: "Name must be at most 100 characters."})
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		fe = append(fe, FieldError{Field: "name", Message: "Name must be one line of text."})
	}
	return name, fe
}

func checkInterval(s string, fe []FieldError) (time.Duration, []FieldError) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < MinHeartbeat || d > MaxHeartbeat || d%time.Second != 0 {
		return 0, append(fe, FieldError{Field: "interval", Message: "Interval must be a duration from 10s to 720h in whole seconds, such as 5m."})
	}
	return d, fe
}

// NewIntegrationFrom validates n and builds the integration with a fresh key, returned once.
func NewIntegrationFrom(id string, n NewIntegration, now time.Time) (*Integration, string, error) {
	var fe []FieldError
	i := &Integration{ID: id, Type: n.Type, CreatedAt: now.UTC(), UpdatedAt: now.UTC(), Version: 1}
	i.Name, fe = checkName(n.Name, fe)
	if i.Type == "" {
		i.Type = IntegrationEvents
	}
	switch i.Type {
	case IntegrationEvents:
		if n.Interval != "" {
			fe = append(fe, FieldError{Field: "interval", Message: "Only heartbeat integrations have an interval."})
		}
	case IntegrationHeartbeat:
		var d time.Duration
		d, fe = checkInterval(n.Interval, fe)
		i.Heartbeat = &Heartbeat{IntervalSeconds: int(d / time.Second), State: HeartbeatWaiting}
		i.Severity = SeverityHigh
	default:
		fe = append(fe, FieldError{Field: "type", Message: "Type must be events or heartbeat."})
	}
	if n.Severity != "" {
		if !n.Severity.Valid() || i.Type != IntegrationHeartbeat {
			fe = append(fe, FieldError{Field: "severity", Message: "Severity (critical, high, medium, low) is set on heartbeat integrations only."})
		}
		i.Severity = n.Severity
	}
	if len(fe) > 0 {
		return nil, "", &Error{Code: EINVALID, Message: "The integration has invalid fields.", Fields: fe}
	}
	key := i.Rotate(now)
	return i, key, nil
}

// Apply changes name, interval or severity.
func (i *Integration) Apply(c IntegrationChange, now time.Time) error {
	var fe []FieldError
	name := i.Name
	if c.Name != "" {
		name, fe = checkName(c.Name, fe)
	}
	var interval time.Duration
	if c.Interval != "" {
		if i.Heartbeat == nil {
			fe = append(fe, FieldError{Field: "interval", Message: "Only heartbeat integrations have an interval."})
		} else {
			interval, fe = checkInterval(c.Interval, fe)
		}
	}
	if c.Severity != "" && (!c.Severity.Valid() || i.Heartbeat == nil) {
		fe = append(fe, FieldError{Field: "severity", Message: "Severity (critical, high, medium, low) is set on heartbeat integrations only."})
	}
	if len(fe) > 0 {
		return &Error{Code: EINVALID, Message: "The change has invalid fields.", Fields: fe}
	}
	i.Name = name
	if interval > 0 {
		i.Heartbeat.IntervalSeconds = int(interval / time.Second)
		if i.Heartbeat.State == HeartbeatUp {
			i.Heartbeat.DueAt = i.Heartbeat.LastPingAt.Add(interval).UTC()
		}
	}
	if c.Severity != "" {
		i.Severity = c.Severity
	}
	i.UpdatedAt = now.UTC()
	return nil
}

// Rotate gives the integration a new key, returned once; the old one stops working.
func (i *Integration) Rotate(now time.Time) string {
	raw := make([]byte, KeyLength/2)
	if _, err := rand.Read(raw); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	key := hex.EncodeToString(raw)
	i.KeyHash, i.KeyHint = KeyHash(key), key[len(key)-4:]
	i.UpdatedAt = now.UTC()
	return key
}

// KeyHash is what a store keeps of a key and looks it up by.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Actor is the integration as the actor of what it does to tickets.
func (i *Integration) Actor() Actor {
	return Actor{Kind: ActorIntegration, ID: i.ID, Name: i.Name}
}

// Ping records a heartbeat: the monitor is up until now + interval. It returns the ticket
// filed when the monitor went down, which the ping resolves ("" when it was not down).
func (i *Integration) Ping(now time.Time) (recovered string) {
	h := i.Heartbeat
	if h.State == HeartbeatDown {
		recovered = h.TicketID
	}
	h.State, h.LastPingAt, h.DueAt, h.TicketID = HeartbeatUp, now.UTC(), now.Add(h.Interval()).UTC(), ""
	return recovered
}

// Due reports whether the monitor missed its interval at now.
func (i *Integration) Due(now time.Time) bool {
	h := i.Heartbeat
	return h != nil && h.State == HeartbeatUp && !now.Before(h.DueAt)
}

// Missed marks the monitor down with the ticket it filed. A monitor no longer due (a ping
// came in meanwhile) is ErrNoChange.
func (i *Integration) Missed(ticketID string, now time.Time) error {
	if !i.Due(now) {
		return ErrNoChange
	}
	i.Heartbeat.State, i.Heartbeat.TicketID, i.Heartbeat.DueAt = HeartbeatDown, ticketID, time.Time{}
	return nil
}

// ErrIntegrationNotFound is returned for an unknown integration or key.
var ErrIntegrationNotFound = &Error{Code: ENOTFOUND, Message: "Integration not found."}

// IntegrationStore keeps integrations. Every implementation passes storetest.RunIntegrations.
type IntegrationStore interface {
	// CreateIntegration stores a new integration (ECONFLICT for an ID or key in use).
	CreateIntegration(ctx context.Context, i *Integration) error
	// GetIntegration returns one integration or ErrIntegrationNotFound.
	GetIntegration(ctx context.Context, id string) (*Integration, error)
	// IntegrationByKey returns the integration whose current key has this hash, or
	// ErrIntegrationNotFound (a rotated-away or deleted key finds nothing).
	IntegrationByKey(ctx context.Context, keyHash string) (*Integration, error)
	// ListIntegrations returns every integration, oldest first.
	ListIntegrations(ctx context.Context) ([]*Integration, error)
	// UpdateIntegration applies fn to the current integration and stores the result
	// atomically, as Store.Update does for tickets (ErrNoChange writes nothing). It bumps
	// Version; the key index follows a rotation.
	UpdateIntegration(ctx context.Context, id string, fn func(*Integration) error) (*Integration, error)
	// DeleteIntegration removes it; its key stops working. Unknown: ErrIntegrationNotFound.
	DeleteIntegration(ctx context.Context, id string) error
	// DueHeartbeats returns up to limit heartbeat monitors that are up and whose DueAt is not
	// after now.
	DueHeartbeats(ctx context.Context, now time.Time, limit int) ([]*Integration, error)
}

// DedupStore is the part of Store that folds triggers into open tickets (see Intake).
type DedupStore interface {
	// CreateOrFold stores t, a new ticket with a DedupKey, unless an open (not resolved)
	// ticket holds that key: then fold runs on that ticket (as Update's fn) and its result is
	// stored instead. Concurrent calls with one key file one ticket. created says which
	// happened; stored is the ticket as written.
	CreateOrFold(ctx context.Context, t *Ticket, fold func(*Ticket) error) (stored *Ticket, created bool, err error)
	// FindOpenByDedupKey returns the open ticket holding the key, or ErrNotFound. Resolving a
	// ticket releases its key; reopening it takes the key back when no other ticket has it.
	FindOpenByDedupKey(ctx context.Context, key string) (*Ticket, error)
	// PendingMail returns up to limit tickets with an email to the reporter still PENDING
	// and last updated before the given time, oldest first.
	PendingMail(ctx context.Context, before time.Time, limit int) ([]*Ticket, error)
}
