package bench

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// Run starts this test binary again as the bare baseline server.
	ServeBareIfChild()
	os.Exit(m.Run())
}

// TestSmoke runs the whole-product bench end to end in a few seconds (tiny durations, one
// small store size) so that make bench cannot rot: it must build, drive both servers, see
// every notification arrive at the sink, seed a store and write its report and charts.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs incidents serve")
	}
	out := t.TempDir()
	opt := Options{
		Out:          out,
		Bin:          os.Getenv("INCIDENTS_BIN"),
		Clients:      []int{2},
		Duration:     300 * time.Millisecond,
		Runs:         1,
		Rates:        []float64{40},
		OpenDuration: 500 * time.Millisecond,
		OpenRuns:     1,
		OpenWorkers:  8,
		Sizes:        []int{200},
		SizeDuration: 300 * time.Millisecond,
		Warmup:       5,
		DrainTimeout: 30 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}

	if got, want := len(rep.Closed), 2; got != want {
		t.Fatalf("closed-loop results = %d, want %d (bare and serve)", got, want)
	}
	for _, r := range append(append([]LoadResult{}, rep.Closed...), rep.Open...) {
		if r.Throughput <= 0 || r.Latency.N == 0 {
			t.Errorf("%s (clients %d, rate %g): throughput %.0f/s over %d answers, want some", r.Target, r.Clients, r.Rate, r.Throughput, r.Latency.N)
		}
		if len(r.Errors) > 0 {
			t.Errorf("%s (clients %d, rate %g): errors %v, want none", r.Target, r.Clients, r.Rate, r.Errors)
		}
		if r.Target != "serve" {
			continue
		}
		if !r.Drained || r.Undelivered > 0 || r.Delivered.N != r.Created {
			t.Errorf("serve (clients %d, rate %g): drained %v, %d of %d undelivered, want every notification at the sink", r.Clients, r.Rate, r.Drained, r.Undelivered, r.Created)
		}
		if r.Duplicates > 0 {
			t.Errorf("serve (clients %d, rate %g): %d duplicated notifications, want none", r.Clients, r.Rate, r.Duplicates)
		}
		if r.PeakRSS <= 0 {
			t.Errorf("serve (clients %d, rate %g): peak RSS %d, want it read from /proc", r.Clients, r.Rate, r.PeakRSS)
		}
	}
	if got, want := len(rep.Sizes), 1; got != want {
		t.Fatalf("size results = %d, want %d", got, want)
	}
	s := rep.Sizes[0]
	if s.Tickets < 200 || s.TicketsAfter <= s.Tickets {
		t.Errorf("store held %d tickets, then %d after the create run; want at least the 200 seeded, then more", s.Tickets, s.TicketsAfter)
	}
	if s.Stats.N == 0 || s.List.N == 0 || s.Get.N == 0 || len(s.ReadErrors) > 0 {
		t.Errorf("reads: stats %d, list %d, get %d answered, errors %v; want all answered", s.Stats.N, s.List.N, s.Get.N, s.ReadErrors)
	}
	if !s.Execution.Drained || s.Execution.Delivered.N == 0 || s.DBBytes == 0 || s.Ready <= 0 {
		t.Errorf("size run: execution drained %v (%d delivered), %d database bytes, ready in %s; want all measured", s.Execution.Drained, s.Execution.Delivered.N, s.DBBytes, s.Ready)
	}

	md, err := os.ReadFile(filepath.Join(out, reportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Machine", "## POST /ticket, closed loop", "## POST /ticket, open loop", "## Store size", "](" + latencyChart + ")", "](" + throughputChart + ")"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q", reportFile, want)
		}
	}
	for _, chart := range []string{latencyChart, throughputChart} {
		f, err := os.Open(filepath.Join(out, chart))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width < 400 {
			t.Errorf("%s: %v, %d px wide; want a PNG chart", chart, err, cfg.Width)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("10k, 100k,1m,250")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{10_000, 100_000, 1_000_000, 250}
	if len(got) != len(want) {
		t.Fatalf("ParseSizes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ParseSizes = %v, want %v", got, want)
		}
	}
	if _, err := ParseSizes("ten"); err == nil {
		t.Error("ParseSizes(\"ten\") = nil error, want one")
	}
}

func TestDist(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := distOf(ds)
	if d.P50 != 50*time.Millisecond || d.P90 != 90*time.Millisecond || d.P99 != 99*time.Millisecond || d.Max != 100*time.Millisecond {
		t.Errorf("distOf(1..100 ms) = %+v, want p50 50, p90 90, p99 99, max 100 ms", d)
	}
}
