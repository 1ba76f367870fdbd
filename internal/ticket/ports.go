package ticket

import (
	"context"
	"encoding/json"
	"time"
)

// Idempotency ties a client-chosen key to the ticket it created. Key and payload hash are
// stored in the same transaction as the ticket, so a replay returns the same ticket and a key
// reused with another payload is a conflict.
type Idempotency struct {
	Key  string // empty: no idempotency requested
	Hash string // hex SHA-256 of the normalized submission
}

// Filter selects tickets for List. Zero values select everything.
type Filter struct {
	Status   Status
	Severity Severity
	Limit    int    // 1..100; stores treat 0 as DefaultLimit
	Cursor   string // opaque, from a previous Page.NextCursor
}

// Page limits.
const (
	DefaultLimit = 25
	MaxLimit     = 100
)

// PageSize is Limit as stores apply it: DefaultLimit when unset, at most MaxLimit.
func (f Filter) PageSize() int {
	if f.Limit <= 0 {
		return DefaultLimit
	}
	return min(f.Limit, MaxLimit)
}

// Page is one page of tickets, newest first. NextCursor is empty on the last page.
type Page struct {
	Items      []*Ticket
	NextCursor string
}

// Store keeps tickets durably. Every implementation passes the suite in storetest.
type Store interface {
	// Create stores t, which must have a new ID. With a non-empty idem.Key it returns the ticket
	// already created under that key (replayed = true) instead, or an ECONFLICT error when the
	// key was used with a different payload. A ticket Create returned without error is durable.
	Create(ctx context.Context, t *Ticket, idem Idempotency) (stored *Ticket, replayed bool, err error)
	// Get returns one ticket or ErrNotFound.
	Get(ctx context.Context, id string) (*Ticket, error)
	// List returns tickets matching f, newest first. A malformed or tampered cursor is EINVALID.
	List(ctx context.Context, f Filter) (Page, error)
	// Update applies fn to the current ticket and stores the result atomically (one
	// conditional write), retrying when a concurrent writer got there first; fn may run more
	// than once and must not have side effects. Update bumps Version and UpdatedAt. If fn
	// returns ErrNoChange nothing is written and the ticket is returned as read, without error;
	// if it returns another error nothing is written and the error is returned. An unknown id
	// is ErrNotFound.
	Update(ctx context.Context, id string, fn func(*Ticket) error) (*Ticket, error)
	// Pending returns up to limit tickets whose notification is still PENDING and that were
	// last updated before the given time, oldest first; its cost follows the pending count.
	Pending(ctx context.Context, before time.Time, limit int) ([]*Ticket, error)
	// Stats counts tickets by status, severity and notification status.
	Stats(ctx context.Context) (Stats, error)
	// DedupStore: dedup keys and reporter mail (intake.go).
	DedupStore
}

// Stats are the counts shown at the top of the admin table.
type Stats struct {
	Total          int                        `json:"total"`
	ByStatus       map[Status]int             `json:"byStatus"`
	BySeverity     map[Severity]int           `json:"bySeverity"`
	ByNotification map[NotificationStatus]int `json:"byNotification"`
}

// NewStats returns Stats with every known key present at zero.
func NewStats() Stats {
	s := Stats{ByStatus: map[Status]int{}, BySeverity: map[Severity]int{}, ByNotification: map[NotificationStatus]int{}}
	for _, v := range Statuses {
		s.ByStatus[v] = 0
	}
	for _, v := range Severities {
		s.BySeverity[v] = 0
	}
	for _, v := range NotificationStatuses {
		s.ByNotification[v] = 0
	}
	return s
}

// Count adds t to the stats.
func (s *Stats) Count(t *Ticket) {
	s.Total++
	s.ByStatus[t.Status]++
	s.BySeverity[t.Severity]++
	s.ByNotification[t.Notification.Status]++
}

// Starter starts the notification workflow for a ticket: an execution named after the ticket
// whose input is WorkflowInput, the ticket's ID and nothing else, so no personal data reaches
// the execution's input, output, history or logs. The workflow reads the ticket from the store.
type Starter interface {
	Start(ctx context.Context, ticketID string) (execution string, err error)
}

// WorkflowInput is the whole input of a notification workflow execution.
type WorkflowInput struct {
	ID string `json:"id"`
}

// Message is one notification to the responders.
type Message struct {
	TicketID string `json:"ticketId"`
	// DeliveryID is the same for this ticket's notification on one channel on every retry
	// (see DeliveryID); channels pass it on (an Idempotency-Key header, a message attribute)
	// so receivers can drop a repeat.
	DeliveryID string            `json:"deliveryId,omitempty"`
	Subject    string            `json:"subject"`
	Body       string            `json:"body"`
	Severity   Severity          `json:"severity"`
	Link       string            `json:"link,omitempty"`
	Attrs      map[string]string `json:"attributes,omitempty"`
	// AckLink, when paging provides one, acknowledges the ticket in one click.
	AckLink string `json:"ackLink,omitempty"`
}

// Publisher delivers a message on one channel. Failures are *TransientError (worth retrying)
// or *PermanentError. Every implementation passes the suite in publishertest.
type Publisher interface {
	// Channel names the destination stably (e.g. "outbox", "webhook:https://…", "sns:arn…");
	// it is what Notification.Channels records.
	Channel() string
	Publish(ctx context.Context, m Message) error
}

// Config is the runtime configuration (SSM Parameter Store on AWS, flags locally).
type Config struct {
	// NotificationsEnabled is the kill switch: when false the workflow records FAILED with a
	// clear reason instead of delivering.
	NotificationsEnabled bool
	// SubjectPrefix starts every notification subject, e.g. "[Incident]".
	SubjectPrefix string
	// SiteURL, when set, is used to put a link to the ticket in each message.
	SiteURL string
	// Webhooks are extra Slack-compatible channels.
	Webhooks []string
}

// DefaultConfig is the configuration used when nothing is configured.
func DefaultConfig() Config {
	return Config{NotificationsEnabled: true, SubjectPrefix: "[Incident]"}
}

// ConfigSource loads Config; implementations cache as they see fit.
type ConfigSource interface {
	Load(ctx context.Context) (Config, error)
}

// StaticConfig is a ConfigSource that never changes: the embedded server's flags, or a test's.
type StaticConfig Config

// Load implements ConfigSource.
func (c StaticConfig) Load(context.Context) (Config, error) { return Config(c), nil }

// Execution is a workflow execution as an admin inspects it: the shape of Step Functions'
// DescribeExecution with the GetExecutionHistory events, in camelCase.
type Execution struct {
	ExecutionArn    string            `json:"executionArn"`
	StateMachineArn string            `json:"stateMachineArn"`
	Name            string            `json:"name"`
	Status          string            `json:"status"`
	StartDate       time.Time         `json:"startDate"`
	StopDate        *time.Time        `json:"stopDate"`
	Input           json.RawMessage   `json:"input"`
	Output          json.RawMessage   `json:"output"`
	Error           string            `json:"error,omitempty"`
	Cause           string            `json:"cause,omitempty"`
	Events          []json.RawMessage `json:"events,omitempty"`
}

// ExecutionStore keeps execution records locally (on AWS they live in Step Functions and
// CloudWatch Logs). Several executions may share a name; the latest is the one started last.
type ExecutionStore interface {
	// SaveExecution inserts or replaces the record with e.ExecutionArn.
	SaveExecution(ctx context.Context, e *Execution) error
	// Executions lists the executions named name, newest first, without events.
	Executions(ctx context.Context, name string) ([]*Execution, error)
	// LatestExecution returns the newest execution named name (or the one whose ARN is name)
	// with its events, or ErrExecutionNotFound.
	LatestExecution(ctx context.Context, name string) (*Execution, error)
}

type deferredKey struct{}

// Deferred marks the store writes made with ctx as bookkeeping nobody is answered on (the
// workflow's delivery records): a store may make them durable a moment later (the embedded
// store: within 50 ms, or at the next durable write) instead of before returning. They still
// survive a crash of the process at once. Writes whose success a person is told about
// (creates, status changes) are never deferred.
func Deferred(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredKey{}, true)
}

// IsDeferred reports whether ctx was marked by Deferred.
func IsDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferredKey{}).(bool)
	return v
}
