package ticket

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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
	Status       Status
	Severity     Severity
	Notification NotificationStatus
	Category     string
	// Query is free text matched against the title, description, reporter's name and email,
	// and the ticket's ID: every word must match (as a prefix of a word in the text).
	Query string
	// CreatedFrom and CreatedTo bound the filing time (from inclusive, to exclusive).
	CreatedFrom, CreatedTo time.Time
	// UpdatedSince selects tickets changed after it: what a polling queue asks for.
	UpdatedSince time.Time
	Sort         Sort
	Limit        int    // 1..100; stores treat 0 as DefaultLimit
	Cursor       string // opaque, from a previous Page.NextCursor
}

// Sort is the order of a list.
type Sort string

const (
	SortFiled    Sort = "filed"    // newest first (the default)
	SortAge      Sort = "age"      // oldest first
	SortUpdated  Sort = "updated"  // most recently changed first
	SortSeverity Sort = "severity" // critical first, then newest first
)

// Sorts lists every sort.
var Sorts = []Sort{SortFiled, SortAge, SortUpdated, SortSeverity}

// Rank orders severities, most urgent first (0).
func (s Severity) Rank() int {
	for i, v := range Severities {
		if s == v {
			return i
		}
	}
	return len(Severities)
}

// MaxQuery bounds the free text of a search.
const MaxQuery = 200

// Validate checks a filter's values, naming each bad one by its query parameter.
func (f *Filter) Validate() error {
	var fe []FieldError
	if f.Status != "" && !f.Status.Valid() {
		fe = append(fe, FieldError{Field: "status", Message: "Status must be one of open, acknowledged, resolved."})
	}
	if f.Severity != "" && !f.Severity.Valid() {
		fe = append(fe, FieldError{Field: "severity", Message: "Severity must be one of critical, high, medium, low."})
	}
	if f.Notification != "" && !f.Notification.Valid() {
		fe = append(fe, FieldError{Field: "notification", Message: "Notification must be one of PENDING, SENT, PARTIAL, FAILED."})
	}
	if len(f.Category) > MaxCategory {
		fe = append(fe, FieldError{Field: "category", Message: "Category must be at most 64 characters."})
	}
	if f.Query = strings.TrimSpace(f.Query); utf8.RuneCountInString(f.Query) > MaxQuery || !utf8.ValidString(f.Query) {
		fe = append(fe, FieldError{Field: "q", Message: "The search must be valid text of at most 200 characters."})
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		fe = append(fe, FieldError{Field: "to", Message: "The end of the date range must come after its start."})
	}
	if f.Sort == "" {
		f.Sort = SortFiled
	}
	if !slices.Contains(Sorts, f.Sort) {
		fe = append(fe, FieldError{Field: "sort", Message: "Sort must be one of filed, age, updated, severity."})
	}
	if f.Limit != 0 && (f.Limit < 1 || f.Limit > MaxLimit) {
		fe = append(fe, FieldError{Field: "limit", Message: "Limit must be a whole number from 1 to 100."})
	}
	if len(fe) > 0 {
		return &Error{Code: EINVALID, Message: "The query has invalid parameters.", Fields: fe}
	}
	return nil
}

// Matches reports whether t is selected by f's fields (not its paging): the one definition of
// the filter, used by stores that filter in memory and by the tests of those that do not.
func (f Filter) Matches(t *Ticket) bool {
	switch {
	case f.Status != "" && t.Status != f.Status,
		f.Severity != "" && t.Severity != f.Severity,
		f.Notification != "" && t.Notification.Status != f.Notification,
		f.Category != "" && !strings.EqualFold(t.Category, f.Category),
		!f.CreatedFrom.IsZero() && t.CreatedAt.Before(f.CreatedFrom),
		!f.CreatedTo.IsZero() && !t.CreatedAt.Before(f.CreatedTo),
		!f.UpdatedSince.IsZero() && !t.UpdatedAt.After(f.UpdatedSince):
		return false
	}
	if f.Query == "" {
		return true
	}
	words := SearchWords(t)
	for _, q := range QueryWords(f.Query) {
		found := false
		for _, w := range words {
			if strings.HasPrefix(w, q) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// SearchText is what a search looks in: the title, description, reporter's name and email,
// category and ID.
func SearchText(t *Ticket) string {
	return strings.Join([]string{t.Title, t.Description, t.Reporter.Name, t.Reporter.Email, t.Category, t.ID}, "\n")
}

// SearchWords splits SearchText into lower-case words (letters and digits; an email address
// and an ID also count whole).
func SearchWords(t *Ticket) []string { return words(SearchText(t), true) }

// QueryWords splits a search into the lower-case words every one of which must match.
func QueryWords(q string) []string { return words(q, false) }

func words(s string, whole bool) []string {
	var out []string
	for _, f := range strings.Fields(strings.ToLower(s)) {
		if whole && (strings.ContainsAny(f, "@-")) {
			out = append(out, strings.Trim(f, ".,;:()[]<>\"'"))
		}
		for _, w := range strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			out = append(out, w)
		}
	}
	return out
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
	// Total counts the tickets the filter selects, on the first page (no cursor): exactly when
	// TotalExact, otherwise "at least Total" (stores bound the count). -1: not counted.
	Total      int
	TotalExact bool
}

// Store keeps tickets durably. Every implementation passes the suite in storetest.
type Store interface {
	// Create stores t, which must have a new ID. With a non-empty idem.Key it returns the ticket
	// already created under that key (replayed = true) instead, or an error when the key was
	// used with a different payload: ErrIdempotencyKeyReused, or any ECONFLICT (which the API
	// reads the same way, since the ID of a new ticket is fresh). A ticket Create returned
	// without error is durable.
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
