// Package tasks holds the Step Functions task handlers of the notification workflow. Each is
// one Go function with typed input and output; its Lambda main wraps it with lambda.Start and
// the embedded engine calls it through lambda.NewHandler, so both see the same JSON and the
// same error names. Errors that Retry/Catch must tell apart are returned as named types
// (*ticket.TransientError, *ticket.PermanentError): their Go type name is the error name.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// PublishInput is what the Publish state passes (see statemachine/notify.asl.json).
type PublishInput struct {
	TicketID  string `json:"ticketId"`
	Execution string `json:"execution"`
	Attempt   int    `json:"attempt"`
}

// PublishOutput reports the delivery.
type PublishOutput struct {
	TicketID  string   `json:"ticketId"`
	Attempts  int      `json:"attempts"`
	Delivered []string `json:"delivered"`
	// Skipped lists channels not sent to because they had accepted this notification before.
	Skipped []string `json:"skipped"`
}

// Publish delivers a ticket's notification to every channel that has not yet accepted it.
type Publish struct {
	Store  ticket.Store
	Config ticket.ConfigSource
	// Channels returns the publishers for a configuration (the outbox or SNS topic, plus the
	// configured webhooks).
	Channels func(ticket.Config) []ticket.Publisher
	Now      func() time.Time
	Log      *slog.Logger
}

// Handle is the task handler.
func (p *Publish) Handle(ctx context.Context, in PublishInput) (PublishOutput, error) {
	if in.TicketID == "" {
		return PublishOutput{}, &ticket.PermanentError{Err: errors.New("ticketId is required")}
	}
	cfg, err := p.Config.Load(ctx)
	if err != nil {
		return PublishOutput{}, &ticket.TransientError{Err: fmt.Errorf("load configuration: %w", err)}
	}
	holder := in.Execution
	if holder == "" {
		holder = fmt.Sprintf("direct-invoke-%d", p.Now().UnixNano())
	}
	// Count the attempt durably first, so a run that dies half way still shows up, and take the
	// delivery lease in the same atomic update: an overlapping duplicate execution backs off
	// (and retries) instead of sending to the same channels at the same time.
	t, err := p.Store.Update(ctx, in.TicketID, func(t *ticket.Ticket) error {
		now := p.Now()
		if t.Notification.Status == ticket.NotificationSent {
			return nil
		}
		if t.Notification.Leased(holder, now) {
			return errLeased
		}
		t.Notification.LeaseHolder, t.Notification.LeaseUntil = holder, now.Add(LeaseDuration).UTC()
		t.Notification.Attempts++
		if in.Execution != "" {
			t.Notification.Execution = in.Execution
		}
		t.AddTimeline(now, ticket.EventNotifyAttempt, fmt.Sprintf("Notification attempt %d.", t.Notification.Attempts))
		return nil
	})
	if errors.Is(err, errLeased) {
		return PublishOutput{}, &ticket.TransientError{Err: errors.New("another execution is delivering this notification right now")}
	}
	if err != nil {
		return PublishOutput{}, storeError("count the attempt", err)
	}
	out := PublishOutput{TicketID: t.ID, Attempts: t.Notification.Attempts, Delivered: []string{}, Skipped: []string{}}
	if t.Notification.Status == ticket.NotificationSent {
		// A duplicate execution (Express is at-least-once): nothing left to do.
		out.Skipped = append(out.Skipped, t.Notification.Delivered...)
		return out, nil
	}
	if !cfg.NotificationsEnabled {
		return out, p.fail(ctx, t.ID, &ticket.PermanentError{Err: errors.New("notifications are switched off by configuration")})
	}
	msg := NewMessage(t, cfg)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		failures []error
	)
	for _, ch := range p.Channels(cfg) {
		name := ch.Channel()
		if t.Notification.HasDelivered(name) {
			out.Skipped = append(out.Skipped, name)
			continue
		}
		wg.Add(1)
		go func(ch ticket.Publisher) {
			defer wg.Done()
			err := ch.Publish(ctx, msg)
			if err == nil {
				_, err = p.Store.Update(ctx, t.ID, func(t *ticket.Ticket) error {
					if !t.Notification.HasDelivered(name) {
						t.Notification.Delivered = append(t.Notification.Delivered, name)
						t.AddTimeline(p.Now(), ticket.EventNotifyDelivered, "Delivered to "+name+".")
					}
					return nil
				})
				if err != nil {
					err = storeError("record the delivery", err)
				}
			} else {
				err = fmt.Errorf("%s: %w", name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err)
				p.Log.WarnContext(ctx, "channel failed", "ticketId", t.ID, "channel", name, "err", err)
				return
			}
			out.Delivered = append(out.Delivered, name)
		}(ch)
	}
	wg.Wait()
	sort.Strings(out.Delivered)
	if len(failures) == 0 {
		return out, nil
	}
	return out, p.fail(ctx, t.ID, joinFailures(failures))
}

// LeaseDuration is how long one Publish run holds the delivery lease: longer than the Publish
// state's TimeoutSeconds (15 s), so a run that dies mid-way blocks duplicates only briefly.
const LeaseDuration = 20 * time.Second

var errLeased = errors.New("leased by another execution")

// fail records err as the ticket's last error, releases the lease so another execution may
// try, and returns err: transient if any channel may still succeed on retry, permanent only
// when every failure is permanent. A ticket that got SENT meanwhile keeps its clean record.
func (p *Publish) fail(ctx context.Context, id string, err error) error {
	if _, uerr := p.Store.Update(ctx, id, func(t *ticket.Ticket) error {
		if t.Notification.Status == ticket.NotificationSent {
			return nil
		}
		t.Notification.LastError = err.Error()
		t.Notification.ReleaseLease()
		return nil
	}); uerr != nil {
		p.Log.ErrorContext(ctx, "record last error", "ticketId", id, "err", uerr)
	}
	return err
}

func joinFailures(errs []error) error {
	msgs := make([]string, len(errs))
	transient := false
	for i, e := range errs {
		msgs[i] = e.Error()
		if ticket.IsTransient(e) {
			transient = true
		}
	}
	sort.Strings(msgs)
	err := errors.New(strings.Join(msgs, "; "))
	if transient {
		return &ticket.TransientError{Err: err}
	}
	return &ticket.PermanentError{Err: err}
}

func storeError(what string, err error) error {
	if ticket.ErrorCode(err) == ticket.ENOTFOUND {
		return &ticket.PermanentError{Err: fmt.Errorf("%s: %w", what, err)}
	}
	return &ticket.TransientError{Err: fmt.Errorf("%s: %w", what, err)}
}
