package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// runIntake is the DedupStore part of the contract (Run calls it).
func runIntake(t *testing.T, open func(t *testing.T) ticket.Store, opt Options) {
	if !opt.NoTransactions {
		t.Run("CreateOrFoldFolds", func(t *testing.T) { testCreateOrFold(t, open(t)) })
		t.Run("CreateOrFoldConcurrentFilesOne", func(t *testing.T) { testCreateOrFoldConcurrent(t, open(t)) })
		t.Run("ResolveReleasesDedupKey", func(t *testing.T) { testResolveReleases(t, open(t)) })
	}
	t.Run("PendingMail", func(t *testing.T) { testPendingMail(t, open(t)) })
}

// MakeAlert returns a ticket filed by an integration with the dedup key.
func MakeAlert(offset time.Duration, key string) *ticket.Ticket {
	id, err := uuid.NewV7()
	if err != nil {
		panic(err)
	}
	return ticket.NewFromIntake(id.String(), ticket.Intake{
		Title:    "Disk full on db-1 " + offset.String(),
		Severity: ticket.SeverityHigh,
		Reporter: ticket.Reporter{Name: "Prometheus"},
		DedupKey: key,
		Source:   &ticket.Source{Kind: ticket.SourceEvents, IntegrationID: "int-1", IntegrationName: "Prometheus", DedupKey: key},
		By:       ticket.Actor{Kind: ticket.ActorIntegration, ID: "int-1", Name: "Prometheus"},
	}, base.Add(offset))
}

var integrationActor = ticket.Actor{Kind: ticket.ActorIntegration, ID: "int-1", Name: "Prometheus"}

func fold(x *ticket.Ticket) error { return x.Fold(integrationActor, "", nil, base) }

func testCreateOrFold(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	key := ticket.DedupScope("int-1", "disk-db-1")
	first, created, err := s.CreateOrFold(ctx, MakeAlert(0, key), fold)
	if err != nil || !created {
		t.Fatalf("first CreateOrFold = created %v, err %v; want a new ticket", created, err)
	}
	second, created, err := s.CreateOrFold(ctx, MakeAlert(time.Second, key), fold)
	if err != nil || created {
		t.Fatalf("second CreateOrFold = created %v, err %v; want a fold", created, err)
	}
	if second.ID != first.ID || second.Occurrences != 2 || second.Version != first.Version+1 {
		t.Errorf("fold gave ticket %s occurrences %d version %d; want %s, 2, %d", second.ID, second.Occurrences, second.Version, first.ID, first.Version+1)
	}
	if got, err := s.Get(ctx, first.ID); err != nil || got.Occurrences != 2 || got.Timeline[len(got.Timeline)-1].Type != ticket.EventRetriggered {
		t.Errorf("stored after the fold: %+v, %v; want 2 occurrences and a retriggered entry", got, err)
	}
	other, created, err := s.CreateOrFold(ctx, MakeAlert(2*time.Second, ticket.DedupScope("int-2", "disk-db-1")), fold)
	if err != nil || !created || other.ID == first.ID {
		t.Errorf("the same key in another scope: created %v err %v; want a ticket of its own", created, err)
	}
	got, err := s.FindOpenByDedupKey(ctx, key)
	if err != nil || got.ID != first.ID {
		t.Errorf("FindOpenByDedupKey = %v, %v; want %s", got, err, first.ID)
	}
	if _, err := s.FindOpenByDedupKey(ctx, ticket.DedupScope("int-1", "nothing")); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("FindOpenByDedupKey(unknown) err = %v, want not found", err)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Total != 2 {
		t.Errorf("Stats.Total = %d (%v), want 2: a fold files nothing", st.Total, err)
	}
}

func testCreateOrFoldConcurrent(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	key := ticket.DedupScope("int-1", "flapping")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	createdN := 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, created, err := s.CreateOrFold(ctx, MakeAlert(time.Duration(i)*time.Millisecond, key), fold)
			if err != nil {
				t.Errorf("concurrent CreateOrFold: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[got.ID]++
			if created {
				createdN++
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || createdN != 1 {
		t.Fatalf("%d concurrent triggers made tickets %v (%d created); want one ticket", n, ids, createdN)
	}
	for id := range ids {
		got, err := s.Get(ctx, id)
		if err != nil || got.Occurrences != n {
			t.Errorf("occurrences = %d (%v), want %d", got.Occurrences, err, n)
		}
	}
}

func testResolveReleases(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	key := ticket.DedupScope("int-1", "cpu")
	first, _, err := s.CreateOrFold(ctx, MakeAlert(0, key), fold)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, first.ID, func(x *ticket.Ticket) error {
		return x.TransitionBy(ticket.StatusResolved, integrationActor, base)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindOpenByDedupKey(ctx, key); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("FindOpenByDedupKey after resolve: err %v, want not found", err)
	}
	second, created, err := s.CreateOrFold(ctx, MakeAlert(time.Minute, key), fold)
	if err != nil || !created || second.ID == first.ID {
		t.Fatalf("trigger after resolve: created %v err %v id %s; want a new ticket", created, err, second.ID)
	}
	// Reopening the first while the second holds the key must not take it away.
	if _, err := s.Update(ctx, first.ID, func(x *ticket.Ticket) error { return x.Transition(ticket.StatusOpen, base) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindOpenByDedupKey(ctx, key); err != nil || got.ID != second.ID {
		t.Errorf("after reopening the old ticket the key names %v (%v); want the new one %s", got, err, second.ID)
	}
	// Once the new one resolves, the reopened old one is not silently indexed; a trigger files anew.
	if _, err := s.Update(ctx, second.ID, func(x *ticket.Ticket) error {
		return x.TransitionBy(ticket.StatusResolved, integrationActor, base)
	}); err != nil {
		t.Fatal(err)
	}
	third, created, err := s.CreateOrFold(ctx, MakeAlert(2*time.Minute, key), fold)
	if err != nil || !created || third.ID == first.ID || third.ID == second.ID {
		t.Errorf("trigger after the second resolve: created %v err %v; want a third ticket", created, err)
	}
}

func testPendingMail(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	quiet := mustCreate(t, s, Make(0, ticket.SeverityLow))
	tk := Make(time.Second, ticket.SeverityLow)
	tk.QueueMail(ticket.MailFiled, "", base)
	withMail := mustCreate(t, s, tk)
	// A ticket whose notification ended still has its mail pending.
	if _, err := s.Update(ctx, withMail.ID, func(x *ticket.Ticket) error { return x.FailDelivery("", "test", base) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.PendingMail(ctx, time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatalf("PendingMail: %v", err)
	}
	if len(got) != 1 || got[0].ID != withMail.ID {
		t.Fatalf("PendingMail = %v, want only %s (not %s)", ids(got), withMail.ID, quiet.ID)
	}
	if got, err := s.PendingMail(ctx, base.Add(-time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("PendingMail(before its last change) = %v, %v; want none", ids(got), err)
	}
	n := got[0].PendingMail(base)[0]
	if _, err := s.Update(ctx, withMail.ID, func(x *ticket.Ticket) error { return x.MailSent(n.ID, base) }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PendingMail(ctx, time.Now().Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Errorf("PendingMail after it was sent = %v, %v; want none", ids(got), err)
	}
}

func ids(ts []*ticket.Ticket) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// RunIntegrations is the contract of every ticket.IntegrationStore.
func RunIntegrations(t *testing.T, open func(t *testing.T) ticket.IntegrationStore) {
	ctx := context.Background()
	now := base
	make := func(name string, typ ticket.IntegrationType, interval string) (*ticket.Integration, string) {
		i, key, err := ticket.NewIntegrationFrom(uuid.NewString(), ticket.NewIntegration{Name: name, Type: typ, Interval: interval}, now)
		if err != nil {
			t.Fatal(err)
		}
		return i, key
	}
	t.Run("CreateGetByKeyList", func(t *testing.T) {
		s := open(t)
		a, keyA := make("Prometheus", ticket.IntegrationEvents, "")
		b, _ := make("Nightly backup", ticket.IntegrationHeartbeat, "1h")
		for _, i := range []*ticket.Integration{a, b} {
			if err := s.CreateIntegration(ctx, i); err != nil {
				t.Fatalf("CreateIntegration: %v", err)
			}
		}
		if err := s.CreateIntegration(ctx, a); ticket.ErrorCode(err) != ticket.ECONFLICT {
			t.Errorf("CreateIntegration(same id) err = %v, want conflict", err)
		}
		got, err := s.GetIntegration(ctx, a.ID)
		if err != nil || got.Name != "Prometheus" || got.KeyHash != a.KeyHash {
			t.Errorf("GetIntegration = %+v, %v", got, err)
		}
		byKey, err := s.IntegrationByKey(ctx, ticket.KeyHash(keyA))
		if err != nil || byKey.ID != a.ID {
			t.Errorf("IntegrationByKey = %+v, %v; want %s", byKey, err, a.ID)
		}
		if _, err := s.IntegrationByKey(ctx, ticket.KeyHash("nope")); ticket.ErrorCode(err) != ticket.ENOTFOUND {
			t.Errorf("IntegrationByKey(unknown) err = %v, want not found", err)
		}
		all, err := s.ListIntegrations(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("ListIntegrations = %d, %v; want 2", len(all), err)
		}
		if _, err := s.GetIntegration(ctx, uuid.NewString()); ticket.ErrorCode(err) != ticket.ENOTFOUND {
			t.Errorf("GetIntegration(unknown) err = %v, want not found", err)
		}
	})
	t.Run("RotateAndDelete", func(t *testing.T) {
		s := open(t)
		a, oldKey := make("Grafana", ticket.IntegrationEvents, "")
		if err := s.CreateIntegration(ctx, a); err != nil {
			t.Fatal(err)
		}
		var newKey string
		got, err := s.UpdateIntegration(ctx, a.ID, func(i *ticket.Integration) error {
			newKey = i.Rotate(now)
			return i.Apply(ticket.IntegrationChange{Name: "Grafana prod"}, now)
		})
		if err != nil || got.Version != a.Version+1 || got.Name != "Grafana prod" {
			t.Fatalf("UpdateIntegration = %+v, %v", got, err)
		}
		if _, err := s.IntegrationByKey(ctx, ticket.KeyHash(oldKey)); ticket.ErrorCode(err) != ticket.ENOTFOUND {
			t.Errorf("the rotated-away key still finds the integration (err %v)", err)
		}
		if i, err := s.IntegrationByKey(ctx, ticket.KeyHash(newKey)); err != nil || i.ID != a.ID {
			t.Errorf("the new key finds %+v, %v", i, err)
		}
		if same, err := s.UpdateIntegration(ctx, a.ID, func(i *ticket.Integration) error { i.Name = "x"; return ticket.ErrNoChange }); err != nil || same.Name != "Grafana prod" {
			t.Errorf("ErrNoChange: %+v, %v", same, err)
		}
		if err := s.DeleteIntegration(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.IntegrationByKey(ctx, ticket.KeyHash(newKey)); ticket.ErrorCode(err) != ticket.ENOTFOUND {
			t.Errorf("a deleted integration's key still works (err %v)", err)
		}
		if err := s.DeleteIntegration(ctx, a.ID); ticket.ErrorCode(err) != ticket.ENOTFOUND {
			t.Errorf("second delete err = %v, want not found", err)
		}
	})
	t.Run("DueHeartbeats", func(t *testing.T) {
		s := open(t)
		var ids []string
		for i, interval := range []string{"1m", "5m", "1h"} {
			h, _ := make(fmt.Sprint("job ", i), ticket.IntegrationHeartbeat, interval)
			if err := s.CreateIntegration(ctx, h); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, h.ID)
		}
		waiting, _ := make("never pinged", ticket.IntegrationHeartbeat, "1m")
		if err := s.CreateIntegration(ctx, waiting); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if _, err := s.UpdateIntegration(ctx, id, func(i *ticket.Integration) error { i.Ping(now); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		due, err := s.DueHeartbeats(ctx, now.Add(10*time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range due {
			got = append(got, d.ID)
		}
		if want := ids[:2]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("DueHeartbeats(+10m) = %v, want %v (most overdue first; not the 1h one, not the waiting one)", got, want)
		}
		if _, err := s.UpdateIntegration(ctx, ids[0], func(i *ticket.Integration) error { return i.Missed("t-1", now.Add(10*time.Minute)) }); err != nil {
			t.Fatal(err)
		}
		due, err = s.DueHeartbeats(ctx, now.Add(10*time.Minute), 10)
		if err != nil || len(due) != 1 || due[0].ID != ids[1] {
			t.Errorf("after one went down, DueHeartbeats = %d, %v; want only %s", len(due), err, ids[1])
		}
	})
}
