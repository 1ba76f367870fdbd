package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
	"github.com/incidentmanager/incidents/tasks"
)

type starter struct {
	started []string
	err     error
}

func (s *starter) Start(_ context.Context, id string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	s.started = append(s.started, id)
	return id, nil
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	clock := time.Now().Add(time.Hour)
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewStore(db, []byte("k"))
	pending := storetest.Make(0, ticket.SeverityHigh)
	sent := storetest.Make(time.Second, ticket.SeverityHigh)
	sent.FailDelivery("", "test", sent.CreatedAt)
	for _, tk := range []*ticket.Ticket{pending, sent} {
		if _, _, err := store.Create(ctx, tk, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	st := &starter{}
	sw := &tasks.Sweep{Store: store, Starter: st, Now: func() time.Time { return clock }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxRuns: 2}
	for round := 1; round <= 2; round++ {
		res, err := sw.Handle(ctx, nil)
		if err != nil || len(res.Restarted) != 1 || res.Restarted[0] != pending.ID {
			t.Fatalf("sweep %d = %+v, %v; want only the pending ticket restarted", round, res, err)
		}
		// Right after a restart the ticket is fresh again: no double start.
		if res, _ := sw.Before(ctx, clock.Add(-time.Minute)); len(res.Restarted) != 0 {
			t.Fatalf("sweep right after a restart restarted %v", res.Restarted)
		}
		// The restarted workflow began delivering but recorded no outcome (the run died).
		store.Update(ctx, pending.ID, func(x *ticket.Ticket) error {
			_, err := x.BeginDelivery(fmt.Sprintf("exec-%d", round), []string{"outbox"}, true, clock)
			return err
		})
		clock = clock.Add(time.Hour)
	}
	res, err := sw.Handle(ctx, nil)
	if err != nil || len(res.GaveUp) != 1 || len(st.started) != 2 {
		t.Fatalf("third sweep = %+v, %v, %d starts; want the ticket given up after 2 runs", res, err, len(st.started))
	}
	got, _ := store.Get(ctx, pending.ID)
	if got.Notification.Status != ticket.NotificationFailed || got.Notification.LastError == "" {
		t.Errorf("given-up ticket = %+v, want FAILED with a reason", got.Notification)
	}
}

func TestRestartsThatNeverRanDoNotCount(t *testing.T) {
	ctx := context.Background()
	clock := time.Now().Add(time.Hour)
	db, _ := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), func() time.Time { return clock })
	defer db.Close()
	store := sqlite.NewStore(db, []byte("k"))
	tk := storetest.Make(0, ticket.SeverityLow)
	store.Create(ctx, tk, ticket.Idempotency{})
	st := &starter{}
	sw := &tasks.Sweep{Store: store, Starter: st, Now: func() time.Time { return clock }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxRuns: 2}
	// Five process restarts in a row, none of which got to run the workflow.
	for i := 0; i < 5; i++ {
		clock = clock.Add(time.Hour)
		if res, err := sw.Handle(ctx, nil); err != nil || len(res.GaveUp) != 0 {
			t.Fatalf("sweep %d = %+v, %v; want a restart, not giving up", i, res, err)
		}
	}
	if got, _ := store.Get(ctx, tk.ID); got.Notification.Status != ticket.NotificationPending {
		t.Errorf("status = %s, want still PENDING", got.Notification.Status)
	}
}

func TestSweepStopsWhenStartFails(t *testing.T) {
	ctx := context.Background()
	db, _ := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	defer db.Close()
	store := sqlite.NewStore(db, []byte("k"))
	for i := 0; i < 3; i++ {
		store.Create(ctx, storetest.Make(time.Duration(i)*time.Second, ticket.SeverityLow), ticket.Idempotency{})
	}
	sw := &tasks.Sweep{Store: store, Starter: &starter{err: errors.New("throttled")}, Now: func() time.Time { return time.Now().Add(time.Hour) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	_, err := sw.Handle(ctx, nil)
	if !ticket.IsTransient(err) {
		t.Errorf("Handle with a failing starter = %v, want a TransientError", err)
	}
}

func TestSweepLeavesActiveExecutionsAlone(t *testing.T) {
	ctx := context.Background()
	db, _ := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	defer db.Close()
	store := sqlite.NewStore(db, []byte("k"))
	running, stranded := storetest.Make(0, ticket.SeverityLow), storetest.Make(time.Second, ticket.SeverityLow)
	store.Create(ctx, running, ticket.Idempotency{})
	store.Create(ctx, stranded, ticket.Idempotency{})
	st := &starter{}
	sw := &tasks.Sweep{Store: store, Starter: st, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Active: func(id string) bool { return id == running.ID }}
	res, err := sw.Before(ctx, time.Now().Add(time.Hour))
	if err != nil || fmt.Sprint(st.started) != fmt.Sprint([]string{stranded.ID}) || res.Active != 1 {
		t.Errorf("sweep = %+v, %v, started %v; want only the stranded ticket started and one left running", res, err, st.started)
	}
}
