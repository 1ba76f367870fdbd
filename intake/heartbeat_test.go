package intake_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// virtualClock is a Clock whose time moves only when the test advances it; After fires the
// channels whose time has come.
type virtualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{}
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

func (c *virtualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *virtualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return ch
}

// advance moves time on by d, one check period at a time, and waits for the runner to go back
// to sleep after each.
func (c *virtualClock) advance(t *testing.T, d, step time.Duration) {
	for end := c.Now().Add(d); c.Now().Before(end); {
		c.mu.Lock()
		c.now = c.now.Add(step)
		var keep []waiter
		for _, w := range c.waiters {
			if !w.at.After(c.now) {
				w.c <- c.now
			} else {
				keep = append(keep, w)
			}
		}
		c.waiters = keep
		c.mu.Unlock()
		select {
		case <-c.waiting:
		case <-time.After(5 * time.Second):
			t.Fatal("the heartbeat runner did not wait again")
		}
	}
}

func TestHeartbeatsOnVirtualClock(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "hb.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, ints := sqlite.NewStore(db, []byte("k")), sqlite.NewIntegrations(db)
	clock := &virtualClock{now: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), waiting: make(chan struct{}, 1)}
	// The store stamps updates with the virtual time too.
	svc := &intake.Service{Tickets: store, Integrations: ints, Now: clock.Now}
	integ, key, err := ticket.NewIntegrationFrom("hb-1", ticket.NewIntegration{Name: "nightly backup", Type: ticket.IntegrationHeartbeat, Interval: "1h"}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ints.CreateIntegration(context.Background(), integ); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.RunHeartbeats(ctx, clock, time.Minute); close(done) }()
	defer func() { cancel(); <-done }()
	<-clock.waiting

	count := func() int {
		st, err := store.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Total
	}
	// Waiting for its first ping, a monitor is never due.
	clock.advance(t, 3*time.Hour, time.Minute)
	if n := count(); n != 0 {
		t.Fatalf("%d tickets before the first ping, want 0", n)
	}
	if _, err := svc.Ping(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	// Pinged every 50 minutes: never late.
	for i := 0; i < 3; i++ {
		clock.advance(t, 50*time.Minute, time.Minute)
		if _, err := svc.Ping(context.Background(), key); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d tickets while pings came in time, want 0", n)
	}
	// Then the job stops: at the interval's end (within one check period) a ticket is filed.
	clock.advance(t, 59*time.Minute, time.Minute)
	if n := count(); n != 0 {
		t.Fatalf("a ticket after 59 minutes of a 1h interval")
	}
	clock.advance(t, 2*time.Minute, time.Minute)
	if n := count(); n != 1 {
		t.Fatalf("%d tickets after the missed interval, want 1", n)
	}
	got, _ := ints.GetIntegration(context.Background(), "hb-1")
	if got.Heartbeat.State != ticket.HeartbeatDown || got.Heartbeat.TicketID == "" {
		t.Fatalf("heartbeat %+v, want down with its ticket", got.Heartbeat)
	}
	tk, _ := store.Get(context.Background(), got.Heartbeat.TicketID)
	if tk.Severity != ticket.SeverityHigh || tk.Source.Kind != ticket.SourceHeartbeat || tk.Status != ticket.StatusOpen {
		t.Errorf("ticket %+v", tk)
	}
	// Hours more of silence file nothing more.
	clock.advance(t, 5*time.Hour, 10*time.Minute)
	if n := count(); n != 1 {
		t.Errorf("%d tickets after more silence, want still 1", n)
	}
	// The next ping resolves it, with the integration as the actor.
	if _, err := svc.Ping(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	tk, _ = store.Get(context.Background(), tk.ID)
	last := tk.Timeline[len(tk.Timeline)-1]
	if tk.Status != ticket.StatusResolved || last.Actor == nil || last.Actor.Kind != ticket.ActorIntegration {
		t.Errorf("after the ping: status %s, last entry %+v; want resolved by the integration", tk.Status, last)
	}
	// And a second miss later files a new ticket (the first is resolved).
	clock.advance(t, 70*time.Minute, time.Minute)
	if n := count(); n != 2 {
		t.Errorf("%d tickets after a second miss, want 2", n)
	}
}
