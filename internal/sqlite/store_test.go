package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	}, storetest.Options{Sorts: ticket.Sorts})
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

// TestOpensADatabaseOfTheFirstVersion: a database written before compression (JSON text,
// user_version 0) opens, its rows read as they were, and changed rows are stored compressed.
func TestOpensADatabaseOfTheFirstVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	tk := storetest.Make(0, ticket.SeverityHigh)
	body, _ := json.Marshal(tk)
	for _, q := range []string{
		`CREATE TABLE tickets (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL, notification_status TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL) STRICT`,
		`CREATE TABLE executions (arn TEXT PRIMARY KEY, name TEXT NOT NULL, start_date TEXT NOT NULL, seq INTEGER NOT NULL, summary TEXT NOT NULL, events TEXT NOT NULL) STRICT`,
		`INSERT INTO tickets VALUES ('` + tk.ID + `', '2026-11-27T09:30:00.123456789Z', '2026-11-27T09:30:00.123456789Z', 'open', 'high', 'PENDING', 1, '` + string(body) + `')`,
		`INSERT INTO executions VALUES ('arn:1', '` + tk.ID + `', '2026-11-27T09:30:00.123456789Z', 1, '{"executionArn":"arn:1","name":"` + tk.ID + `","status":"SUCCEEDED"}', '[{"id":1,"type":"ExecutionStarted"}]')`,
	} {
		if _, err := old.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	old.Close()

	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatalf("open a first-version database: %v", err)
	}
	defer db.Close()
	s := sqlite.NewStore(db, []byte("k"))
	got, err := s.Get(context.Background(), tk.ID)
	if err != nil || got.Title != tk.Title {
		t.Fatalf("Get of a row written as text = %+v, %v", got, err)
	}
	x, err := sqlite.NewExecutions(db).LatestExecution(context.Background(), tk.ID)
	if err != nil || x.Status != "SUCCEEDED" || len(x.Events) != 1 {
		t.Fatalf("execution written as text = %+v, %v", x, err)
	}
	if _, err := s.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error { return x.Transition(ticket.StatusResolved, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Get(context.Background(), tk.ID); err != nil || again.Status != ticket.StatusResolved {
		t.Errorf("after an update: %+v, %v", again, err)
	}
}

// TestStorageStaysSmall: a delivered ticket and its execution take a fraction of their JSON
// on disk, well under 2 KiB.
func TestStorageStaysSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "size.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, x := sqlite.NewStore(db, []byte("k")), sqlite.NewExecutions(db)
	ctx := context.Background()
	const n = 2000
	var raw int
	for i := range n {
		tk := storetest.Make(time.Duration(i)*time.Millisecond, ticket.SeverityHigh)
		tk.BeginDelivery("exec", []string{"outbox", "webhook:hooks.example.com#0f074a71bb97"}, true, tk.CreatedAt)
		tk.ChannelDelivered("outbox", tk.CreatedAt)
		tk.ChannelDelivered("webhook:hooks.example.com#0f074a71bb97", tk.CreatedAt)
		if _, _, err := s.Create(ctx, tk, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		events := []json.RawMessage{json.RawMessage(`{"executionStartedEventDetails":{"input":"{\"id\":\"` + tk.ID + `\"}","inputDetails":{"truncated":false},"roleArn":"arn:aws:iam::000000000000:role/StepFunctionsLocal"},"id":1,"previousEventId":0,"timestamp":"2026-12-02T08:17:31.335314521Z","type":"ExecutionStarted"}`)}
		rec := &ticket.Execution{ExecutionArn: "arn:aws:states:local:000000000000:express:incident-manager-notify:" + tk.ID + ":x", Name: tk.ID, Status: "SUCCEEDED", StartDate: tk.CreatedAt, Input: json.RawMessage(`{"id":"` + tk.ID + `"}`), Events: events}
		if err := x.SaveExecution(ctx, rec); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(tk)
		e, _ := json.Marshal(rec)
		raw += len(b) + len(e)
	}
	db.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if per := st.Size() / n; per > 1536 || per > int64(raw/n) {
		t.Errorf("%d bytes on disk per ticket with its execution (JSON %d): want under 1.5 KiB and less than the JSON", per, raw/n)
	} else {
		t.Logf("%d bytes on disk per ticket with its execution (JSON %d)", per, raw/n)
	}
}

// TestStatsCountersMatchTheTable: the counters kept as tickets change agree with a count of
// the table after creates, deliveries, status changes and a failed update.
func TestStatsCountersMatchTheTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlite.NewStore(db, []byte("k"))
	ctx := context.Background()
	sevs := ticket.Severities
	var ids []string
	for i := range 60 {
		tk := storetest.Make(time.Duration(i)*time.Second, sevs[i%len(sevs)])
		if _, _, err := s.Create(ctx, tk, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	for i, id := range ids {
		s.Update(ticket.Deferred(ctx), id, func(x *ticket.Ticket) error {
			x.BeginDelivery("e", []string{"outbox"}, true, time.Now())
			if i%3 == 0 {
				return x.ChannelDelivered("outbox", time.Now())
			}
			return nil
		})
		if i%4 == 0 {
			s.Update(ctx, id, func(x *ticket.Ticket) error { return x.Transition(ticket.StatusResolved, time.Now()) })
		}
		if i%5 == 0 {
			s.Update(ctx, id, func(x *ticket.Ticket) error { x.Status = ticket.StatusAcknowledged; return errors.New("refused") })
		}
	}
	got, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := sql.Open("sqlite", "file:"+path)
	defer raw.Close()
	want := ticket.NewStats()
	rows, err := raw.Query(`SELECT status, severity, notification_status FROM tickets`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var st, sev, ns string
		rows.Scan(&st, &sev, &ns)
		want.Count(&ticket.Ticket{Status: ticket.Status(st), Severity: ticket.Severity(sev), Notification: ticket.Notification{Status: ticket.NotificationStatus(ns)}})
	}
	rows.Close()
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("Stats from counters\n got %s\nwant %s (a count of the table)", g, w)
	}
}

func TestExecutionRetention(t *testing.T) {
	ctx := context.Background()
	x := sqlite.NewExecutions(open(t))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		if err := x.SaveExecution(ctx, &ticket.Execution{ExecutionArn: fmt.Sprint("arn:", i), Name: fmt.Sprint("t", i), Status: "SUCCEEDED", StartDate: start.Add(time.Duration(i) * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := start.Add(5*24*time.Hour + time.Hour) // days 0..5 are older
	n, err := x.DeleteBefore(ctx, cutoff, 4)
	if err != nil || n != 4 {
		t.Fatalf("first pass deleted %d, %v; want 4 (the limit)", n, err)
	}
	n, err = x.DeleteBefore(ctx, cutoff, 4)
	if err != nil || n != 2 {
		t.Fatalf("second pass deleted %d, %v; want the 2 left", n, err)
	}
	if _, err := x.LatestExecution(ctx, "t5"); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("execution of day 5 still there: %v", err)
	}
	if got, err := x.LatestExecution(ctx, "t6"); err != nil || got.Name != "t6" {
		t.Errorf("execution of day 6 gone: %v", err)
	}
}

func TestIntegrationsContract(t *testing.T) {
	storetest.RunIntegrations(t, func(t *testing.T) ticket.IntegrationStore { return sqlite.NewIntegrations(open(t)) })
}

func TestPeopleContract(t *testing.T) {
	storetest.RunPeople(t, func(t *testing.T) ticket.People { return sqlite.NewPeople(open(t)) })
}
