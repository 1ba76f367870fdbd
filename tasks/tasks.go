// Package tasks holds the Step Functions task handlers of the notification workflow. Each is
// one Go function with typed input and output; its Lambda main wraps it with lambda.Start and
// the embedded engine calls it through lambda.NewHandler, so both see the same JSON and the
// same error names. Errors that Retry/Catch must tell apart are returned as named types
// (*ticket.TransientError, *ticket.PermanentError): their Go type name is the error name.
//
// The handlers are thin: load the ticket, call one of its delivery methods, save. The rules
// live in internal/ticket.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// PublishInput is what the Publish state passes (see statemachine/notify.asl.json).
type PublishInput struct {
	TicketID  string `json:"ticketId"`
	Execution string `json:"execution"`
	// StartedAt is the execution's start ($$.Execution.StartTime): waits the receivers ask for
	// are honoured only while the execution stays inside its time limit.
	StartedAt time.Time `json:"startedAt,omitzero"`
}

// PublishOutput reports one Publish run. It holds IDs, channel names and counts only.
type PublishOutput struct {
	TicketID string `json:"ticketId"`
	// Status is the notification's overall status after this run: PENDING when WaitSeconds
	// asks the workflow to come back, otherwise final.
	Status   ticket.NotificationStatus `json:"status"`
	Attempts int                       `json:"attempts"`
	// Sent lists the channels that accepted the notification in this run.
	Sent []string `json:"sent"`
	// Failed lists the channels given up on.
	Failed []string `json:"failed"`
	// WaitSeconds > 0: a receiver asked to be tried later (Retry-After); the workflow waits
	// that long and runs Publish again.
	WaitSeconds int `json:"waitSeconds"`
}

// Publish delivers a ticket's notification to every channel that has not accepted it yet.
type Publish struct {
	Store  ticket.Store
	Config ticket.ConfigSource
	// Channels returns the publishers for a configuration (the outbox or SNS topic, plus the
	// configured webhooks).
	Channels func(ticket.Config) []ticket.Publisher
	Now      func() time.Time
	Log      *slog.Logger
	// WaitBudget bounds how long after the execution's start a receiver's Retry-After is still
	// honoured; 0 means DefaultWaitBudget.
	WaitBudget time.Duration
}

// DefaultWaitBudget keeps the waits receivers ask for, plus the retries after them, inside
// the Express execution's 5-minute limit (the state machine times out at 280 s).
const DefaultWaitBudget = 150 * time.Second

// Handle is the task handler.
func (p *Publish) Handle(ctx context.Context, in PublishInput) (PublishOutput, error) {
	if in.TicketID == "" {
		return PublishOutput{}, &ticket.PermanentError{Err: errors.New("ticketId is required")}
	}
	ctx = ticket.Deferred(ctx) // delivery records: nobody waits on their fsync
	cfg, err := p.Config.Load(ctx)
	if err != nil {
		return PublishOutput{}, &ticket.TransientError{Err: fmt.Errorf("load configuration: %w", err)}
	}
	execution := in.Execution
	if execution == "" {
		execution = fmt.Sprintf("direct-invoke-%d", p.Now().UnixNano())
	}
	channels := map[string]ticket.Publisher{}
	var names []string
	for _, ch := range p.Channels(cfg) {
		channels[ch.Channel()] = ch
		names = append(names, ch.Channel())
	}
	// One write: count the attempt, take the lease, and learn what is left to deliver.
	var due []ticket.ChannelDelivery
	t, err := p.Store.Update(ctx, in.TicketID, func(t *ticket.Ticket) error {
		var err error
		due, err = t.BeginDelivery(execution, names, cfg.NotificationsEnabled, p.Now())
		return err
	})
	switch {
	case errors.Is(err, ticket.ErrNotificationFinal):
		// A duplicate execution (Express is at-least-once), or a retry after the end.
		return p.output(ctx, in.TicketID, nil, nil, 0)
	case errors.Is(err, ticket.ErrDeliveryLeased):
		return PublishOutput{}, &ticket.TransientError{Err: errors.New("another workflow run is delivering this notification right now")}
	case err != nil:
		return PublishOutput{}, storeError("begin the delivery", err)
	}
	if len(due) == 0 {
		return outputOf(t, nil, nil, 0), nil
	}
	msg := NewMessage(t, cfg)
	now := p.Now()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		outcomes []ticket.ChannelOutcome
		sent     []string
		last     = t
	)
	for _, c := range due {
		ch, ok := channels[c.Channel]
		if !ok {
			continue
		}
		if wait := c.NotBefore.Sub(now); wait > 0 {
			// The receiver asked us to wait: do not send before then.
			outcomes = append(outcomes, ticket.ChannelOutcome{Channel: c.Channel, RetryAt: c.NotBefore, NotTried: true})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := msg
			m.DeliveryID = ticket.DeliveryID(t.ID, c.Channel)
			err := ch.Publish(ctx, m)
			if err == nil {
				// Recorded at once, each in its own write: a crash after this send must not
				// send it again.
				done, uerr := p.recordDelivered(ctx, t.ID, c.Channel)
				mu.Lock()
				defer mu.Unlock()
				if uerr != nil {
					p.Log.ErrorContext(ctx, "record a delivery", "ticketId", t.ID, "channel", c.Channel, "err", uerr)
					outcomes = append(outcomes, ticket.ChannelOutcome{Channel: c.Channel, Error: "delivered, but recording it failed"})
					return
				}
				sent = append(sent, c.Channel)
				if done.Version > last.Version {
					last = done
				}
				return
			}
			o := ticket.ChannelOutcome{Channel: c.Channel, Error: err.Error(), Permanent: !ticket.IsTransient(err)}
			var te *ticket.TransientError
			if errors.As(err, &te) && te.RetryAfter > 0 {
				o.RetryAt = p.Now().Add(te.RetryAfter)
			}
			p.Log.WarnContext(ctx, "channel failed", "ticketId", t.ID, "channel", c.Channel, "permanent", o.Permanent, "err", err)
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Strings(sent)
	if len(outcomes) == 0 {
		// Every due channel accepted it; the last ChannelDelivered ended the delivery.
		return outputOf(last, sent, nil, 0), nil
	}
	// One more write: what failed in this attempt; the lease is released for the next one.
	t, err = p.Store.Update(context.WithoutCancel(ctx), t.ID, func(t *ticket.Ticket) error {
		return t.EndAttempt(execution, outcomes, p.Now())
	})
	if err != nil {
		return PublishOutput{}, storeError("record the attempt", err)
	}
	if t.Notification.Status.Final() {
		return outputOf(t, sent, nil, 0), nil
	}
	// Something is still pending: come back after the receiver's Retry-After if it asked and
	// that fits in the execution's time, otherwise retry through the state's Retry policy.
	if wait := p.wait(t, in.StartedAt); wait > 0 {
		return outputOf(t, sent, nil, wait), nil
	}
	return PublishOutput{}, pendingError(t)
}

// recordDelivered writes that channel accepted the notification, trying again for a few
// seconds when the store fails: until it is written, a later attempt would send it again.
func (p *Publish) recordDelivered(ctx context.Context, id, channel string) (*ticket.Ticket, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordPatience)
	defer cancel()
	backoff := 50 * time.Millisecond
	for {
		t, err := p.Store.Update(ctx, id, func(t *ticket.Ticket) error { return t.ChannelDelivered(channel, p.Now()) })
		if err == nil || ticket.ErrorCode(err) == ticket.ENOTFOUND {
			return t, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
			backoff = min(2*backoff, time.Second)
		}
	}
}

// recordPatience bounds how long a delivery waits for the store to record it.
const recordPatience = 5 * time.Second

// wait returns the seconds until the earliest Retry-After of a pending channel, or 0 when no
// channel asked or the wait would not fit in the execution's budget.
func (p *Publish) wait(t *ticket.Ticket, startedAt time.Time) int {
	budget := p.WaitBudget
	if budget == 0 {
		budget = DefaultWaitBudget
	}
	now := p.Now()
	var earliest time.Time
	for _, c := range t.Notification.Channels {
		if c.Status == ticket.NotificationPending && c.NotBefore.After(now) && (earliest.IsZero() || c.NotBefore.Before(earliest)) {
			earliest = c.NotBefore
		}
	}
	if earliest.IsZero() {
		return 0
	}
	if !startedAt.IsZero() && earliest.After(startedAt.Add(budget)) {
		return 0
	}
	return int(math.Ceil(earliest.Sub(now).Seconds()))
}

// pendingError is the TransientError (transient channels remain) the Retry policy acts on.
func pendingError(t *ticket.Ticket) error {
	return &ticket.TransientError{Err: errors.New(t.Notification.LastError)}
}

func (p *Publish) output(ctx context.Context, id string, sent, failed []string, wait int) (PublishOutput, error) {
	t, err := p.Store.Get(ctx, id)
	if err != nil {
		return PublishOutput{}, storeError("read the ticket", err)
	}
	return outputOf(t, sent, failed, wait), nil
}

func outputOf(t *ticket.Ticket, sent, failed []string, wait int) PublishOutput {
	out := PublishOutput{TicketID: t.ID, Status: t.Notification.Status, Attempts: t.Notification.Attempts, Sent: sent, Failed: failed, WaitSeconds: wait}
	if out.Sent == nil {
		out.Sent = []string{}
	}
	if out.Failed == nil {
		out.Failed = []string{}
		for _, c := range t.Notification.Channels {
			if c.Status == ticket.NotificationFailed {
				out.Failed = append(out.Failed, c.Channel)
			}
		}
	}
	if wait > 0 {
		out.Status = ticket.NotificationPending
	}
	return out
}

func storeError(what string, err error) error {
	if ticket.ErrorCode(err) == ticket.ENOTFOUND {
		return &ticket.PermanentError{Err: fmt.Errorf("%s: %w", what, err)}
	}
	return &ticket.TransientError{Err: fmt.Errorf("%s: %w", what, err)}
}
