package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "incidents.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ticket.Store {
		return sqlite.NewStore(open(t), []byte("0123456789abcdef"))
	}, storetest.Options{})
}

func TestStoreSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := storetest.Make(0, ticket.SeverityHigh)
	if _, _, err := sqlite.NewStore(db, []byte("k")).Create(context.Background(), want, ticket.Idempotency{Key: "k1", Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := sqlite.NewStore(db, []byte("k"))
	got, err := s.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got.Title != want.Title {
		t.Errorf("title after reopen = %q, want %q", got.Title, want.Title)
	}
	again, replayed, err := s.Create(context.Background(), storetest.Make(time.Second, ticket.SeverityHigh), ticket.Idempotency{Key: "k1", Hash: "h"})
	if err != nil || !replayed || again.ID != want.ID {
		t.Errorf("idempotency key after reopen: replayed %v id %v err %v; want the first ticket", replayed, again, err)
	}
}

func TestExecutions(t *testing.T) {
	ctx := context.Background()
	x := sqlite.NewExecutions(open(t))
	if _, err := x.LatestExecution(ctx, "t1"); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Fatalf("LatestExecution(unknown) err = %v, want not found", err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	first := &ticket.Execution{ExecutionArn: "arn:1", Name: "t1", Status: "RUNNING", StartDate: start, Input: json.RawMessage(`{"a":1}`)}
	second := &ticket.Execution{ExecutionArn: "arn:2", Name: "t1", Status: "RUNNING", StartDate: start}
	for _, e := range []*ticket.Execution{first, second} {
		if err := x.SaveExecution(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Finishing the first one later must not make it the latest.
	first.Status = "SUCCEEDED"
	first.Events = []json.RawMessage{json.RawMessage(`{"id":1,"type":"ExecutionStarted"}`)}
	if err := x.SaveExecution(ctx, first); err != nil {
		t.Fatal(err)
	}
	latest, err := x.LatestExecution(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if latest.ExecutionArn != "arn:2" {
		t.Errorf("latest = %s, want arn:2 (started last)", latest.ExecutionArn)
	}
	byArn, err := x.LatestExecution(ctx, "arn:1")
	if err != nil || byArn.ExecutionArn != "arn:1" || len(byArn.Events) != 1 {
		t.Errorf("LatestExecution(arn:1) = %+v, %v; want the first execution with its event", byArn, err)
	}
	all, err := x.Executions(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].Status != "SUCCEEDED" || all[1].Events != nil {
		t.Errorf("Executions = %+v, want 2 summaries without events, the older one SUCCEEDED", all)
	}
}

func TestConcurrentCreatesShareCommits(t *testing.T) {
	s := sqlite.NewStore(open(t), []byte("k"))
	ctx := context.Background()
	const n = 64
	type result struct {
		id       string
		replayed bool
		err      error
	}
	results := make(chan result, n)
	dup := storetest.Make(0, ticket.SeverityLow)
	for i := 0; i < n; i++ {
		go func(i int) {
			tk := storetest.Make(time.Duration(i)*time.Millisecond, ticket.SeverityLow)
			idem := ticket.Idempotency{}
			switch {
			case i%8 == 0: // eight creates race on one key: one ticket, seven replays
				idem = ticket.Idempotency{Key: "shared", Hash: "h"}
			case i == 1 || i == 2: // two creates race on one ticket ID: one wins, one conflicts
				tk.ID = dup.ID
			}
			got, replayed, err := s.Create(ctx, tk, idem)
			r := result{replayed: replayed, err: err}
			if got != nil {
				r.id = got.ID
			}
			results <- r
		}(i)
	}
	ids := map[string]int{}
	var replays, conflicts int
	for i := 0; i < n; i++ {
		r := <-results
		switch {
		case ticket.ErrorCode(r.err) == ticket.ECONFLICT:
			conflicts++
		case r.err != nil:
			t.Fatalf("Create: %v", r.err)
		case r.replayed:
			replays++
		}
		if r.err == nil {
			ids[r.id]++
		}
	}
	if replays != 7 || conflicts != 1 {
		t.Errorf("replays %d conflicts %d, want 7 and 1", replays, conflicts)
	}
	st, _ := s.Stats(ctx)
	if want := n - 7 - 1; st.Total != want || len(ids) != want {
		t.Errorf("stored %d tickets (%d distinct ids answered), want %d", st.Total, len(ids), want)
	}
}
