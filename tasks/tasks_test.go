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
	bad := &channel{name: "webhook:a", err: &ticket.PermanentError{Err: errors.New("HTTP 400")}}
	flaky := &channel{name: "webhook:b", err: &ticket.TransientError{Err: errors.New("HTTP 503")}}
	p, _, store, tk := setup(t, ticket.DefaultConfig(), ok, bad, flaky)
	_, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1"})
	var te *ticket.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("Handle = %T %v, want TransientError while one channel may still succeed", err, err)
	}
	got, _ := store.Get(context.Background(), tk.ID)
	n := got.Notification
	if n.Status != ticket.NotificationPending || n.Channel("outbox").Status != ticket.NotificationSent ||
		n.Channel("webhook:a").Status != ticket.NotificationFailed || n.Channel("webhook:b").Status != ticket.NotificationPending {
		t.Errorf("notification = %+v, want PENDING with outbox SENT, webhook:a FAILED, webhook:b PENDING", n)
	}
	if !strings.Contains(n.LastError, "HTTP 400") || !strings.Contains(n.LastError, "HTTP 503") {
		t.Errorf("lastError %q, want both failures", n.LastError)
	}
	// The retry sends only to the channel still pending, and the delivery ends PARTIAL.
	bad.err, flaky.err = nil, nil
	out, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok.got) != 1 || len(bad.got) != 0 || len(flaky.got) != 1 || out.Attempts != 2 || out.Status != ticket.NotificationPartial {
		t.Errorf("after retry: deliveries %d/%d/%d, attempts %d, status %s; want 1/0/1, 2, PARTIAL", len(ok.got), len(bad.got), len(flaky.got), out.Attempts, out.Status)
	}
	if fmt.Sprint(out.Sent) != "[webhook:b]" || fmt.Sprint(out.Failed) != "[webhook:a]" {
		t.Errorf("output sent %v failed %v", out.Sent, out.Failed)
	}
}

func TestPublishSentEndsDelivery(t *testing.T) {
	a, b := &channel{name: "outbox"}, &channel{name: "webhook:a"}
	p, _, store, tk := setup(t, ticket.DefaultConfig(), a, b)
	out, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1"})
	if err != nil || out.Status != ticket.NotificationSent || len(out.Sent) != 2 {
		t.Fatalf("Handle = %+v, %v; want SENT on both channels", out, err)
	}
	got, _ := store.Get(context.Background(), tk.ID)
	if got.Notification.Status != ticket.NotificationSent || got.Notification.LeaseHolder != "" {
		t.Errorf("stored notification %+v, want SENT with the lease released", got.Notification)
	}
	// Each channel got a delivery ID of its own, stable for the ticket.
	if a.got[0].DeliveryID != ticket.DeliveryID(tk.ID, "outbox") || b.got[0].DeliveryID == a.got[0].DeliveryID {
		t.Errorf("delivery IDs %q and %q", a.got[0].DeliveryID, b.got[0].DeliveryID)
	}
	// A duplicate execution after the end sends nothing and succeeds.
	again, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-2"})
	if err != nil || again.Status != ticket.NotificationSent || len(a.got)+len(b.got) != 2 {
		t.Errorf("duplicate execution = %+v, %v, %d sends; want SENT and nothing sent again", again, err, len(a.got)+len(b.got))
	}
}

func TestPublishHonoursRetryAfter(t *testing.T) {
	ch := &channel{name: "webhook:a", err: &ticket.TransientError{Err: errors.New("HTTP 429"), RetryAfter: 7 * time.Second}}
	p, _, _, tk := setup(t, ticket.DefaultConfig(), ch)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p.Now = func() time.Time { return now }
	out, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1", StartedAt: now})
	if err != nil || out.WaitSeconds != 7 || out.Status != ticket.NotificationPending {
		t.Fatalf("Handle after a 429 = %+v, %v; want the workflow told to wait 7 s", out, err)
	}
	// Run again too early (a retry): nothing is sent before the receiver's time.
	ch.err = nil
	now = now.Add(3 * time.Second)
	out, err = p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1", StartedAt: now.Add(-3 * time.Second)})
	if err != nil || len(ch.got) != 0 || out.WaitSeconds != 4 {
		t.Fatalf("early run = %+v, %v, %d sent; want nothing sent and 4 s more to wait", out, err, len(ch.got))
	}
	now = now.Add(4 * time.Second)
	out, err = p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1"})
	if err != nil || len(ch.got) != 1 || out.Status != ticket.NotificationSent {
		t.Errorf("run after Retry-After = %+v, %v, %d sent; want SENT once", out, err, len(ch.got))
	}
}

func TestPublishRetryAfterBeyondBudget(t *testing.T) {
	ch := &channel{name: "webhook:a", err: &ticket.TransientError{Err: errors.New("HTTP 503"), RetryAfter: time.Hour}}
	p, _, _, tk := setup(t, ticket.DefaultConfig(), ch)
	_, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1", StartedAt: time.Now()})
	if !ticket.IsTransient(err) {
		t.Errorf("Handle when the receiver asks for an hour = %v, want a TransientError (the Retry policy decides)", err)
	}
}

func TestPublishKillSwitch(t *testing.T) {
	ch := &channel{name: "outbox"}
	cfg := ticket.DefaultConfig()
	cfg.NotificationsEnabled = false
	p, _, _, tk := setup(t, cfg, ch)
	out, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID})
	if err != nil || out.Status != ticket.NotificationFailed || len(ch.got) != 0 {
		t.Errorf("Handle with notifications off = %+v, %v, %d sent; want FAILED and nothing sent", out, err, len(ch.got))
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
	ok := &channel{name: "outbox"}
	flaky := &channel{name: "webhook:b", err: &ticket.TransientError{Err: errors.New("HTTP 503")}}
	p, r, store, tk := setup(t, ticket.DefaultConfig(), ok, flaky)
	ctx := context.Background()
	p.Handle(ctx, tasks.PublishInput{TicketID: tk.ID, Execution: "exec-1"})
	out, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Execution: "exec-1", Error: &tasks.ErrorOutput{Error: "TransientError", Cause: `{"errorMessage":"webhook:b: HTTP 503","errorType":"TransientError"}`}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != ticket.NotificationPartial {
		t.Errorf("recorded %s, want PARTIAL (the outbox was reached)", out.Status)
	}
	got, _ := store.Get(ctx, tk.ID)
	if c := got.Notification.Channel("webhook:b"); c.Status != ticket.NotificationFailed || c.LastError != "HTTP 503" {
		t.Errorf("webhook channel = %+v, want FAILED with its own last error", *c)
	}
	// A late duplicate execution that failed must not change an ended delivery.
	if _, err := r.Handle(ctx, tasks.RecordInput{TicketID: tk.ID, Execution: "exec-2"}); err != nil {
		t.Fatal(err)
	}
	if again, _ := store.Get(ctx, tk.ID); again.Version != got.Version {
		t.Errorf("a late Record wrote (version %d → %d)", got.Version, again.Version)
	}
	if _, err := r.Handle(ctx, tasks.RecordInput{}); err == nil {
		t.Error("a Record without ticketId was accepted")
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
		x.Notification.LeaseHolder, x.Notification.LeaseUntil = "arn:dead", now.Add(ticket.LeaseDuration)
		return nil
	})
	if _, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "arn:new"}); !ticket.IsTransient(err) {
		t.Fatalf("Handle while another run holds the lease = %v, want a TransientError", err)
	}
	now = now.Add(ticket.LeaseDuration + time.Second)
	if _, err := p.Handle(context.Background(), tasks.PublishInput{TicketID: tk.ID, Execution: "arn:new"}); err != nil || len(ch.got) != 1 {
		t.Errorf("Handle after the lease expired = %v, %d sent; want delivered once", err, len(ch.got))
	}
}
