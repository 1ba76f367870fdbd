package ticket

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// NotificationStatus is the delivery state of a ticket's notification, overall or on one
// channel. The ticket record, not the workflow console, is the source of truth for it.
//
// Per channel: PENDING (not delivered yet, may still be tried), SENT (the channel accepted it)
// or FAILED (given up on this channel). Overall it is derived from the channels: PENDING while
// delivery is still going on, then SENT (every channel accepted it), PARTIAL (some did, some
// failed) or FAILED (none did).
type NotificationStatus string

const (
	NotificationPending NotificationStatus = "PENDING"
	NotificationSent    NotificationStatus = "SENT"
	NotificationPartial NotificationStatus = "PARTIAL"
	NotificationFailed  NotificationStatus = "FAILED"
)

// NotificationStatuses lists every overall status.
var NotificationStatuses = []NotificationStatus{NotificationPending, NotificationSent, NotificationPartial, NotificationFailed}

// Valid reports whether s is one of NotificationStatuses.
func (s NotificationStatus) Valid() bool { return slices.Contains(NotificationStatuses, s) }

// Final reports whether delivery has ended: nothing more will be sent.
func (s NotificationStatus) Final() bool {
	return s == NotificationSent || s == NotificationPartial || s == NotificationFailed
}

// LeaseDuration is how long one Publish attempt holds the delivery lease: longer than the
// Publish state's TimeoutSeconds (25 s), so an attempt that dies midway blocks an overlapping
// duplicate execution only briefly, and a live one is never overlapped.
const LeaseDuration = 30 * time.Second

// ChannelDelivery is the notification's state on one channel.
type ChannelDelivery struct {
	// Channel names the destination stably: "outbox", "sns:<topic ARN>", "webhook:<host>#<digest>".
	Channel string             `json:"channel"`
	Status  NotificationStatus `json:"status"` // PENDING, SENT or FAILED
	// Attempts counts the sends tried on this channel.
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	SentAt    time.Time `json:"sentAt,omitzero"`
	// NotBefore is when the receiver asked to be tried again (HTTP Retry-After).
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Kind is the channel's type without its address ("webhook", "sns", "outbox"): what a
// reporter may see.
func (c ChannelDelivery) Kind() string {
	k, _, _ := strings.Cut(c.Channel, ":")
	return k
}

// Notification records how the responders were told about a ticket. It changes only through
// the Ticket's delivery methods (BeginDelivery, ChannelDelivered, ChannelFailed, EndAttempt,
// FailDelivery, RestartDelivery), each one conditional write in a store.
type Notification struct {
	Status NotificationStatus `json:"status"`
	// Attempts counts Publish runs for this ticket, retries included.
	Attempts int `json:"attempts"`
	// Runs counts the workflow executions that began delivering: 1 normally, more when the
	// sweeper restarted a run that died. It bounds the restarts.
	Runs int `json:"runs"`
	// LastError is the latest failure, in words; empty once SENT.
	LastError string `json:"lastError"`
	// Execution is the name (local) or ARN (AWS) of the latest workflow execution.
	Execution string            `json:"execution"`
	Channels  []ChannelDelivery `json:"channels"`
	// FinishedAt is when the status became final.
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// LeaseHolder is the execution delivering right now, until LeaseUntil: an overlapping
	// duplicate execution (Express is at-least-once) backs off instead of sending twice.
	LeaseHolder string    `json:"leaseHolder,omitempty"`
	LeaseUntil  time.Time `json:"leaseUntil,omitzero"`
}

// NewNotification is the state of a ticket just filed: pending, nothing tried yet.
func NewNotification() Notification {
	return Notification{Status: NotificationPending, Channels: []ChannelDelivery{}}
}

// Channel returns the state of one channel, or nil.
func (n *Notification) Channel(name string) *ChannelDelivery {
	for i := range n.Channels {
		if n.Channels[i].Channel == name {
			return &n.Channels[i]
		}
	}
	return nil
}

// Leased reports whether an execution other than execution holds the delivery lease at now.
func (n Notification) Leased(execution string, now time.Time) bool {
	return n.LeaseHolder != "" && n.LeaseHolder != execution && now.Before(n.LeaseUntil)
}

func (n *Notification) releaseLease() { n.LeaseHolder, n.LeaseUntil = "", time.Time{} }

// Count returns how many channels are in each state.
func (n Notification) Count() (sent, failed, pending int) {
	for _, c := range n.Channels {
		switch c.Status {
		case NotificationSent:
			sent++
		case NotificationFailed:
			failed++
		default:
			pending++
		}
	}
	return
}

// Delivery errors. ErrNotificationFinal and ErrDeliveryLeased are returned by BeginDelivery;
// ErrNoChange by any method that finds nothing to do, and stores write nothing for it.
var (
	ErrNotificationFinal = Errorf(ECONFLICT, "The notification has already ended.")
	ErrDeliveryLeased    = Errorf(ECONFLICT, "Another workflow run is delivering this notification right now.")
	// ErrNoChange, returned by a Store.Update function, means there is nothing to write:
	// Update then returns the ticket as it is, without error, and writes nothing.
	ErrNoChange = errors.New("ticket: no change")
)

// BeginDelivery starts one Publish attempt by execution at now. channels are the channels
// configured now; the state of each is kept across attempts and executions, so a channel
// that accepted the notification is never sent it again. It returns the channels still to
// deliver to, takes the delivery lease, and counts the attempt (and the run, when execution is
// new). With enabled false (the kill switch) delivery ends FAILED at once.
func (t *Ticket) BeginDelivery(execution string, channels []string, enabled bool, now time.Time) ([]ChannelDelivery, error) {
	n := &t.Notification
	if n.Status.Final() {
		return nil, ErrNotificationFinal
	}
	if n.Leased(execution, now) {
		return nil, ErrDeliveryLeased
	}
	if execution != n.Execution || n.Runs == 0 {
		n.Runs++
		if n.Runs > 1 {
			t.AddTimeline(now, EventNotifyRestarted, fmt.Sprintf("Delivery resumed by a new workflow run (run %d).", n.Runs))
		}
		n.Execution = execution
	}
	n.Attempts++
	if !enabled {
		t.finish(now, "notifications are switched off by configuration")
		return nil, nil
	}
	// Keep what each configured channel went through; forget channels no longer configured
	// unless they were reached (a reached channel stays on the record).
	configured := map[string]bool{}
	for _, c := range channels {
		configured[c] = true
	}
	kept := n.Channels[:0]
	for _, c := range n.Channels {
		if configured[c.Channel] || c.Status == NotificationSent {
			kept = append(kept, c)
		}
	}
	n.Channels = kept
	for _, c := range channels {
		if n.Channel(c) == nil {
			n.Channels = append(n.Channels, ChannelDelivery{Channel: c, Status: NotificationPending})
		}
	}
	if len(n.Channels) == 0 {
		t.finish(now, "no notification channel is configured")
		return nil, nil
	}
	if _, _, pending := n.Count(); pending == 0 {
		// Every channel is settled already (a run died after the last one): finish now.
		t.finish(now, "")
		return nil, nil
	}
	n.LeaseHolder, n.LeaseUntil = execution, now.Add(LeaseDuration).UTC()
	var due []ChannelDelivery
	for _, c := range n.Channels {
		if c.Status == NotificationPending {
			due = append(due, c)
		}
	}
	return due, nil
}

// ChannelDelivered records that channel accepted the notification. When that settles the last
// pending channel, delivery ends (SENT, or PARTIAL if another channel failed).
func (t *Ticket) ChannelDelivered(channel string, now time.Time) error {
	n := &t.Notification
	c := n.Channel(channel)
	if c == nil {
		n.Channels = append(n.Channels, ChannelDelivery{Channel: channel})
		c = &n.Channels[len(n.Channels)-1]
	}
	if c.Status == NotificationSent {
		return ErrNoChange
	}
	c.Status, c.SentAt, c.LastError, c.NotBefore = NotificationSent, now.UTC(), "", time.Time{}
	c.Attempts++
	t.AddTimeline(now, EventNotifyDelivered, "Delivered to "+channel+".")
	if !n.Status.Final() {
		if _, _, pending := n.Count(); pending == 0 {
			t.finish(now, "")
		}
	}
	return nil
}

// ChannelOutcome is what one send on one channel came to, short of success.
type ChannelOutcome struct {
	Channel string
	Error   string
	// Permanent: retrying cannot help (4xx, a redirect, an unanswered request that may have
	// arrived); the channel is given up.
	Permanent bool
	// RetryAt is when the receiver asked to be tried again (zero: no preference).
	RetryAt time.Time
	// NotTried: the send was not tried (for example the receiver's Retry-After is still running).
	NotTried bool
}

// EndAttempt records the channels that failed in this attempt and releases the lease. When no
// channel is left pending, delivery ends (PARTIAL or FAILED).
func (t *Ticket) EndAttempt(execution string, outcomes []ChannelOutcome, now time.Time) error {
	n := &t.Notification
	if n.Status.Final() {
		return ErrNoChange
	}
	for _, o := range outcomes {
		c := n.Channel(o.Channel)
		if c == nil || c.Status != NotificationPending {
			continue
		}
		if !o.NotTried {
			c.Attempts++
		}
		if o.Error != "" {
			c.LastError = o.Error
		}
		c.NotBefore = o.RetryAt.UTC()
		if o.Permanent {
			c.Status = NotificationFailed
			t.AddTimeline(now, EventNotifyChannelFailed, "Could not deliver to "+c.Channel+": "+c.LastError)
		}
	}
	n.LastError = summarizeErrors(n.Channels)
	if n.LeaseHolder == execution {
		n.releaseLease()
	}
	if _, _, pending := n.Count(); pending == 0 {
		t.finish(now, "")
	}
	return nil
}

// FailDelivery ends delivery when the workflow gives up (retries exhausted, an unexpected
// error): channels still pending are FAILED with their last error, or reason.
func (t *Ticket) FailDelivery(execution, reason string, now time.Time) error {
	n := &t.Notification
	if n.Status.Final() {
		return ErrNoChange
	}
	if execution != "" {
		n.Execution = execution
	}
	for i := range n.Channels {
		c := &n.Channels[i]
		if c.Status == NotificationPending {
			c.Status = NotificationFailed
			if c.LastError == "" {
				c.LastError = reason
			}
		}
	}
	t.finish(now, reason)
	return nil
}

// RestartDelivery is the sweeper's step before it starts the workflow again for a ticket whose
// run died: a lease still held belongs to that dead run and is released. After maxRuns runs
// without an outcome it gives up instead (gaveUp), so a broken workflow cannot be restarted
// forever. A ticket no longer pending is ErrNoChange.
func (t *Ticket) RestartDelivery(maxRuns int, now time.Time) (gaveUp bool, err error) {
	n := &t.Notification
	if n.Status.Final() {
		return false, ErrNoChange
	}
	if n.Runs >= maxRuns {
		t.FailDelivery("", fmt.Sprintf("the notification workflow did not finish after %d runs", n.Runs), now)
		return true, nil
	}
	n.releaseLease()
	return false, nil
}

// finish ends delivery: the overall status follows the channels; reason explains a failure
// that no channel explains (kill switch, nothing configured, workflow gave up).
func (t *Ticket) finish(now time.Time, reason string) {
	n := &t.Notification
	sent, failed, _ := n.Count()
	switch {
	case sent > 0 && failed == 0:
		n.Status = NotificationSent
	case sent > 0:
		n.Status = NotificationPartial
	default:
		n.Status = NotificationFailed
	}
	n.LastError = summarizeErrors(n.Channels)
	if n.LastError == "" && n.Status != NotificationSent {
		n.LastError = reason
	}
	if n.LastError == "" && n.Status == NotificationFailed {
		n.LastError = "the notification workflow failed"
	}
	n.releaseLease()
	n.FinishedAt = now.UTC()
	total := len(n.Channels)
	switch n.Status {
	case NotificationSent:
		t.AddTimeline(now, EventNotifySent, fmt.Sprintf("Responders notified on %s after %s.", plural(total, "channel"), plural(n.Attempts, "attempt")))
	case NotificationPartial:
		t.AddTimeline(now, EventNotifyPartial, fmt.Sprintf("Notified on %d of %d channels; %s", sent, total, n.LastError))
	default:
		t.AddTimeline(now, EventNotifyFailed, "Notification failed: "+n.LastError)
	}
}

// summarizeErrors joins the last error of each channel not (yet) reached, in channel order.
func summarizeErrors(cs []ChannelDelivery) string {
	var msgs []string
	for _, c := range cs {
		if c.Status != NotificationSent && c.LastError != "" {
			msgs = append(msgs, c.Channel+": "+c.LastError)
		}
	}
	sort.Strings(msgs)
	return strings.Join(msgs, "; ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// DeliveryID names one notification of a ticket on one channel, the same on every retry and
// every execution, so that a receiver can drop what a crash made us send twice.
func DeliveryID(ticketID, channel string) string {
	return ticketID + "." + shortHash(channel)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// RetryDelivery starts a delivery that ended PARTIAL or FAILED over, for the channels that
// were not reached (those reached stay SENT and are not sent again): what an admin's "retry
// notification" does. The run count starts over, since the previous runs ended with an
// outcome. Any other status is ErrNoChange.
func (t *Ticket) RetryDelivery(by string, now time.Time) error {
	n := &t.Notification
	if n.Status != NotificationPartial && n.Status != NotificationFailed {
		return ErrNoChange
	}
	for i := range n.Channels {
		if c := &n.Channels[i]; c.Status == NotificationFailed {
			c.Status, c.NotBefore = NotificationPending, time.Time{}
		}
	}
	n.Status, n.FinishedAt, n.Runs = NotificationPending, time.Time{}, 0
	msg := "Delivery retried."
	if by != "" {
		msg = "Delivery retried by " + by + "."
	}
	t.AddTimeline(now, EventNotifyRetried, msg)
	return nil
}
