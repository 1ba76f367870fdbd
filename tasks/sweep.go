package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Sweep recovers notifications: it starts the workflow again for tickets whose notification is
// still PENDING a while after their last change (the create could not start it, or the run
// died without an outcome). Store.Pending reads only pending tickets, so a sweep costs what
// the pending count costs. A ticket whose workflow began MaxRuns times without an outcome is
// marked FAILED (Ticket.RestartDelivery), so a broken workflow cannot loop forever. The
// embedded server and the AWS sweep Lambda run this same code.
type Sweep struct {
	Store   ticket.Store
	Starter ticket.Starter
	Now     func() time.Time
	Log     *slog.Logger
	// StaleAfter must be longer than an execution may run when Active is nil (on AWS: the
	// 5-minute Express limit plus a margin) so a running workflow is not started twice; 0
	// means DefaultStaleAfter.
	StaleAfter time.Duration
	// Active, when set, reports whether an execution for the ticket is queued or running (the
	// embedded server knows its own); those are left alone, so StaleAfter can be short.
	Active func(ticketID string) bool
	// Batch bounds one sweep; 0 means 100.
	Batch int
	// MaxRuns bounds the runs per ticket; 0 means DefaultMaxRuns.
	MaxRuns int
}

// DefaultStaleAfter is the Express execution limit plus a margin.
const DefaultStaleAfter = 6 * time.Minute

// DefaultMaxRuns is the first run and five restarts.
const DefaultMaxRuns = 6

// SweepResult is what one sweep did.
type SweepResult struct {
	Restarted []string `json:"restarted"`
	GaveUp    []string `json:"gaveUp"`
	// Active counts pending tickets left alone because their execution is queued or running.
	Active int `json:"active"`
}

// Handle sweeps tickets pending since StaleAfter ago. The scheduled event's content does not
// matter.
func (s *Sweep) Handle(ctx context.Context, _ map[string]any) (SweepResult, error) {
	stale := s.StaleAfter
	if stale == 0 {
		stale = DefaultStaleAfter
	}
	return s.Before(ctx, s.Now().Add(-stale))
}

// Before sweeps tickets pending since before: at start-up the embedded server passes "now",
// since nothing of a previous process is still running.
func (s *Sweep) Before(ctx context.Context, before time.Time) (SweepResult, error) {
	batch, maxRuns := s.Batch, s.MaxRuns
	if batch == 0 {
		batch = 100
	}
	if maxRuns == 0 {
		maxRuns = DefaultMaxRuns
	}
	res := SweepResult{Restarted: []string{}, GaveUp: []string{}}
	pending, err := s.Store.Pending(ctx, before, batch)
	if err != nil {
		return res, &ticket.TransientError{Err: fmt.Errorf("list pending tickets: %w", err)}
	}
	for _, p := range pending {
		if s.Active != nil && s.Active(p.ID) {
			res.Active++
			continue
		}
		gaveUp := false
		// Release a dead run's lease (and bound the runs) before starting again; the write
		// moves UpdatedAt, so the next sweep leaves the ticket alone for StaleAfter.
		t, err := s.Store.Update(ticket.Deferred(ctx), p.ID, func(t *ticket.Ticket) error {
			var err error
			gaveUp, err = t.RestartDelivery(maxRuns, s.Now())
			return err
		})
		if err != nil {
			s.Log.ErrorContext(ctx, "prepare the restart", "ticketId", p.ID, "err", err)
			continue
		}
		if gaveUp {
			res.GaveUp = append(res.GaveUp, t.ID)
			s.Log.WarnContext(ctx, "gave up on a notification", "ticketId", t.ID, "runs", t.Notification.Runs)
			continue
		}
		if t.Notification.Status.Final() {
			continue // finished meanwhile
		}
		exec, err := s.Starter.Start(ctx, t.ID)
		if err != nil {
			// Throttled, down or full: the rest would fail too; the next sweep tries again.
			s.Log.ErrorContext(ctx, "restart the notification workflow", "ticketId", t.ID, "err", err)
			return res, &ticket.TransientError{Err: err}
		}
		res.Restarted = append(res.Restarted, t.ID)
		s.Log.InfoContext(ctx, "notification workflow restarted", "ticketId", t.ID, "execution", exec)
	}
	return res, nil
}
