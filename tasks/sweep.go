package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Sweep recovers notifications: it starts the workflow again for tickets whose notification is
// still PENDING a while after their last change (the create could not start it, or the
// execution died without recording an outcome). Store.Pending reads only pending tickets, so a
// sweep costs what the pending count costs. A ticket restarted MaxRestarts times without an
// outcome is marked FAILED, so a broken workflow cannot make the sweeper loop forever.
type Sweep struct {
	Store   ticket.Store
	Starter ticket.Starter
	Now     func() time.Time
	Log     *slog.Logger
	// StaleAfter must be longer than an execution may run (5 minutes for Express) so a
	// running workflow is not started twice; 0 means DefaultStaleAfter.
	StaleAfter time.Duration
	// Batch bounds one sweep; 0 means 50.
	Batch int
	// MaxRestarts; 0 means 5.
	MaxRestarts int
}

// DefaultStaleAfter is the Express execution limit plus a margin.
const DefaultStaleAfter = 6 * time.Minute

// SweepResult is what one sweep did.
type SweepResult struct {
	Restarted []string `json:"restarted"`
	GaveUp    []string `json:"gaveUp"`
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
	batch, maxRestarts := s.Batch, s.MaxRestarts
	if batch == 0 {
		batch = 50
	}
	if maxRestarts == 0 {
		maxRestarts = 5
	}
	res := SweepResult{Restarted: []string{}, GaveUp: []string{}}
	pending, err := s.Store.Pending(ctx, before, batch)
	if err != nil {
		return res, &ticket.TransientError{Err: fmt.Errorf("list pending tickets: %w", err)}
	}
	for _, p := range pending {
		gaveUp := false
		// Count the restart on the ticket first: it moves UpdatedAt, so the next sweep
		// leaves the ticket alone for StaleAfter, and it bounds the restarts.
		t, err := s.Store.Update(ctx, p.ID, func(t *ticket.Ticket) error {
			gaveUp = false
			if t.Notification.Status != ticket.NotificationPending {
				return errNotPending
			}
			if restarts(t) >= maxRestarts {
				gaveUp = true
				t.Notification.Status = ticket.NotificationFailed
				t.Notification.LastError = fmt.Sprintf("the notification workflow did not finish after %d restarts", maxRestarts)
				t.AddTimeline(s.Now(), ticket.EventNotifyFailed, "Notification failed: "+t.Notification.LastError)
				return nil
			}
			// The sweeper only restarts tickets it judges not running (stale past any
			// execution's lifetime, or left by a previous process), so a lease still held
			// belongs to a run that died.
			t.Notification.ReleaseLease()
			t.AddTimeline(s.Now(), ticket.EventWorkflowStarted, restartMessage)
			return nil
		})
		if errors.Is(err, errNotPending) {
			continue
		}
		if err != nil {
			s.Log.ErrorContext(ctx, "count the restart", "ticketId", p.ID, "err", err)
			continue
		}
		if gaveUp {
			res.GaveUp = append(res.GaveUp, t.ID)
			s.Log.WarnContext(ctx, "gave up on a notification", "ticketId", t.ID)
			continue
		}
		exec, err := s.Starter.Start(ctx, t)
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

const restartMessage = "Notification workflow restarted by the sweeper."

var errNotPending = errors.New("no longer pending")

// restarts counts the restarts that ran (a Publish attempt followed them): a restart whose
// start failed (throttled, queue full) or a process that restarted before the workflow got to
// run must not use up the ticket's chances.
func restarts(t *ticket.Ticket) int {
	n, pending := 0, false
	for _, e := range t.Timeline {
		switch {
		case e.Type == ticket.EventWorkflowStarted && e.Message == restartMessage:
			pending = true
		case e.Type == ticket.EventNotifyAttempt && pending:
			n, pending = n+1, false
		}
	}
	return n
}
