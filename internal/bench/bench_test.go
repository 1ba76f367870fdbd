//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/statemachine"
	"github.com/incidentmanager/incidents/tasks"
)

const body = `{"title":"VPN down","description":"Cannot connect since 9:00","severity":"high","category":"network","reporter":{"name":"Ada","email":"ada@example.com"}}`

type noStart struct{}

func (noStart) Start(_ context.Context, id string) (string, error) { return id, nil }

type nullChannel struct{}

func (nullChannel) Channel() string                               { return "null" }
func (nullChannel) Publish(context.Context, ticket.Message) error { return nil }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(b *testing.B) (*sqlite.DB, *sqlite.Store) {
	db, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, sqlite.NewStore(db, []byte("bench-cursor-key"))
}

// bare is the floor: a net/http handler that decodes the same body and answers 201 JSON.
func bare(w http.ResponseWriter, r *http.Request) {
	var v map[string]any
	json.NewDecoder(r.Body).Decode(&v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(v)
}

func serve(b *testing.B, h http.Handler, method, path, payload string, parallel bool) {
	do := func() {
		req := httptest.NewRequest(method, path, strings.NewReader(payload))
		if payload != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			b.Fatalf("%s %s = %d %s", method, path, rec.Code, rec.Body)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(clientsPerProc)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				do()
			}
		})
		return
	}
	for i := 0; i < b.N; i++ {
		do()
	}
}

func newAPI(store ticket.Store) http.Handler {
	return api.New(api.Config{Store: store, Starter: noStart{}, Log: quiet(), AdminToken: func(context.Context) (string, error) { return "t", nil }})
}

func runWorkflow(b *testing.B) {
	_, store := openStore(b)
	publish := &tasks.Publish{Store: store, Config: ticket.StaticConfig(ticket.DefaultConfig()), Channels: func(ticket.Config) []ticket.Publisher { return []ticket.Publisher{nullChannel{}} }, Now: time.Now, Log: quiet()}
	record := &tasks.Record{Store: store, Now: time.Now}
	m, err := statemachine.Load(statemachine.LocalFunctionArn)
	if err != nil {
		b.Fatal(err)
	}
	inv := statemachine.NewTaskInvoker(publish, record)
	var tickets []*ticket.Ticket
	for i := 0; i < b.N; i++ {
		t := ticket.New(fmt.Sprintf("t-%d", i), ticket.NewTicket{Title: "x", Severity: ticket.SeverityHigh, Reporter: ticket.Reporter{Name: "A", Email: "a@b.co"}}, time.Now())
		if _, _, err := store.Create(context.Background(), t, ticket.Idempotency{}); err != nil {
			b.Fatal(err)
		}
		tickets = append(tickets, t)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, t := range tickets {
		in, _ := json.Marshal(ticket.WorkflowInput{ID: t.ID})
		x := m.Run(context.Background(), in, asl.RunOptions{Name: t.ID, Invoker: inv, Clock: asl.NewVirtualClock(time.Now())})
		if x.Status != asl.StatusSucceeded {
			b.Fatalf("execution %s: %s %s", x.Status, x.Error, x.Cause)
		}
	}
}

// clientsPerProc × GOMAXPROCS goroutines drive the parallel benchmarks.
const clientsPerProc = 4

// TestBenchReport (go test -tags bench) prints each figure and its ratio to the bare handler.
func TestBenchReport(t *testing.T) {
	type row struct {
		name string
		fn   func(b *testing.B)
		base string
	}
	par := fmt.Sprintf(", %d concurrent clients", clientsPerProc*runtime.GOMAXPROCS(0))
	rows := []row{
		{"bare net/http POST", func(b *testing.B) { serve(b, http.HandlerFunc(bare), "POST", "/ticket", body, false) }, ""},
		{"POST /ticket (SQLite, fsync)", func(b *testing.B) {
			_, s := openStore(b)
			serve(b, newAPI(s), "POST", "/ticket", body, false)
		}, "bare net/http POST"},
		{"bare net/http POST" + par, func(b *testing.B) { serve(b, http.HandlerFunc(bare), "POST", "/ticket", body, true) }, ""},
		{"POST /ticket" + par, func(b *testing.B) {
			_, s := openStore(b)
			serve(b, newAPI(s), "POST", "/ticket", body, true)
		}, "bare net/http POST" + par},
		{"GET /ticket/{id}", func(b *testing.B) {
			_, s := openStore(b)
			h := newAPI(s)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/ticket", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			var tk ticket.Ticket
			json.Unmarshal(rec.Body.Bytes(), &tk)
			serve(b, h, "GET", "/ticket/"+tk.ID, "", false)
		}, "bare net/http POST"},
		{"workflow execution (notify.asl.json, in-process tasks)", runWorkflow, ""},
	}
	results := map[string]testing.BenchmarkResult{}
	fmt.Printf("%-58s %14s %12s %10s %12s\n", "benchmark", "ns/op", "ops/s", "allocs/op", "ratio")
	for _, r := range rows {
		res := testing.Benchmark(r.fn)
		if res.N == 0 {
			t.Fatalf("%s did not run", r.name)
		}
		results[r.name] = res
		ratio := ""
		if base, ok := results[r.base]; ok && r.base != "" {
			ratio = fmt.Sprintf("%.1fx bare", float64(res.NsPerOp())/float64(base.NsPerOp()))
		}
		fmt.Printf("%-58s %14d %12.0f %10d %12s\n", r.name, res.NsPerOp(), 1e9/float64(res.NsPerOp()), res.AllocsPerOp(), ratio)
	}
	seq, conc := results["POST /ticket (SQLite, fsync)"], results["POST /ticket"+par]
	fmt.Printf("group commit: creates/s with%s ÷ creates/s one at a time = %.1fx\n", par, float64(seq.NsPerOp())/float64(conc.NsPerOp()))
}
