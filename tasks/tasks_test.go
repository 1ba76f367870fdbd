package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
	"github.com/incidentmanager/incidents/tasks"
)

type channel struct {
	name string
	err  error
	got  []ticket.Message
}

func (c *channel) Channel() string { return c.name }
func (c *channel) Publish(_ context.Context, m ticket.Message) error {
	if c.err != nil {
		return c.err
	}
	c.got = append(c.got, m)
	return nil
}

func setup(t *testing.T, cfg ticket.Config, chans ...ticket.Publisher) (*tasks.Publish, *tasks.Record, ticket.Store, *ticket.Ticket) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := sqlite.NewStore(db, []byte("k"))
	tk := storetest.Make(0, ticket.SeverityCritical)
	if _, _, err := store.Create(context.Background(), tk, ticket.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	p := &tasks.Publish{Store: store, Config: ticket.StaticConfig(cfg), Channels: func(ticket.Config) []ticket.Publisher { return chans }, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return p, &tasks.Record{Store: store, Now: time.Now}, store, tk
}

func TestPublishMixedFailureIsTransient(t *testing.T) {
	ok := &channel{name: "outbox"}
	bad := &channel{name: "webhook:a", err: &ticket.PermanentError{Err: errors.New("400")}}
	flaky := &channel{name: "webhook:b", err: &ticket.TransientError{Err: errors.New("503")}}
	p, _, store, tk := setup(t, ticket.DefaultConfig(), ok, bad, flaky)
	_, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID})
	var te *ticket.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("Handle = %T %v, want TransientError while one channel may still succeed", err, err)
	}
	got, _ := store.Get(context.Background(), tk.ID)
	if !got.Notification.HasDelivered("outbox") || !strings.Contains(got.Notification.LastError, "400") || !strings.Contains(got.Notification.LastError, "503") {
		t.Errorf("notification = %+v, want outbox delivered and both failures in lastError", got.Notification)
	}
	// The retry sends only to the channels still missing.
	bad.err, flaky.err = nil, nil
	out, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Attempt: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok.got) != 1 || len(bad.got) != 1 || len(flaky.got) != 1 || len(out.Skipped) != 1 || out.Attempts != 2 {
		t.Errorf("after retry: deliveries %d/%d/%d, skipped %v, attempts %d; want 1/1/1, [outbox], 2", len(ok.got), len(bad.got), len(flaky.got), out.Skipped, out.Attempts)
	}
}

func TestPublishKillSwitch(t *testing.T) {
	ch := &channel{name: "outbox"}
	cfg := ticket.DefaultConfig()
	cfg.NotificationsEnabled = false
	p, _, _, tk := setup(t, cfg, ch)
	_, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID})
	var pe *ticket.PermanentError
	if !errors.As(err, &pe) || len(ch.got) != 0 {
		t.Errorf("Handle with notifications off = %T %v, %d sent; want PermanentError and nothing sent", err, err, len(ch.got))
	}
}

func TestPublishUnknownTicketIsPermanent(t *testing.T) {
	p, _, _, _ := setup(t, ticket.DefaultConfig(), &channel{name: "outbox"})
	_, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: "nope"})
	var pe *ticket.PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("Handle(unknown ticket) = %T %v, want PermanentError (retrying cannot help)", err, err)
	}
}

func TestRecord(t *testing.T) {
	_, r, store, tk := setup(t, ticket.DefaultConfig())
	ctx := context.Background()
	out, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Outcome: "FAILED", Error: &tasks.ErrorOutput{Error: "PermanentError", Cause: `{"errorMessage":"POST webhook:x: 400 Bad Request","errorType":"PermanentError"}`}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.Notification.LastError, "PermanentError: POST webhook:x: 400 Bad Request"; got != want || out.Notification.Status != ticket.NotificationFailed {
		t.Errorf("recorded %s %q, want FAILED %q", out.Notification.Status, got, want)
	}
	if _, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Outcome: "SENT"}); err != nil {
		t.Fatal(err)
	}
	// A late duplicate execution that failed must not undo a delivery.
	if _, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Outcome: "FAILED"}); err != nil {
		t.Fatal(err)
	}
	got, _ := store.Get(ctx, tk.ID)
	if got.Notification.Status != ticket.NotificationSent || got.Notification.LastError != "" {
		t.Errorf("after SENT then a late FAILED: %+v, want SENT with no error", got.Notification)
	}
	if _, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Outcome: "MAYBE"}); err == nil {
		t.Error("an unknown outcome was accepted")
	}
}

// slowChannel takes a while to accept, so two executions overlap on it.
type slowChannel struct {
	mu   sync.Mutex
	sent int
}

func (c *slowChannel) Channel() string { return "slow" }
func (c *slowChannel) Publish(context.Context, ticket.Message) error {
	time.Sleep(100 * time.Millisecond)
	c.mu.Lock()
	c.sent++
	c.mu.Unlock()
	return nil
}

func TestOverlappingExecutionsSendOnce(t *testing.T) {
	ch := &slowChannel{}
	p, _, _, tk := setup(t, ticket.DefaultConfig(), ch)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: fmt.Sprintf("arn:exec:%d", i)})
		}(i)
	}
	wg.Wait()
	if ch.sent != 1 {
		t.Errorf("two overlapping executions sent %d times, want 1", ch.sent)
	}
	transient := 0
	for _, err := range errs {
		if ticket.IsTransient(err) {
			transient++
		} else if err != nil {
			t.Errorf("unexpected error %v", err)
		}
	}
	if transient != 1 {
		t.Errorf("%d executions backed off with a TransientError, want 1 (errors %v)", transient, errs)
	}
}

func TestLeaseOfADeadRunExpires(t *testing.T) {
	ch := &channel{name: "outbox"}
	p, _, store, tk := setup(t, ticket.DefaultConfig(), ch)
	now := time.Now()
	p.Now = func() time.Time { return now }
	store.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error {
		x.Notification.LeaseHolder, x.Notification.LeaseUntil = "arn:dead", now.Add(tasks.LeaseDuration)
		return nil
	})
	if _, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "arn:new"}); !ticket.IsTransient(err) {
		t.Fatalf("Handle while another run holds the lease = %v, want a TransientError", err)
	}
	now = now.Add(tasks.LeaseDuration + time.Second)
	if _, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "arn:new"}); err != nil || len(ch.got) != 1 {
		t.Errorf("Handle after the lease expired = %v, %d sent; want delivered once", err, len(ch.got))
	}
}
