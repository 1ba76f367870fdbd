package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A server slower than the schedule makes the open loop's requests wait; their latency counts
// from when they were meant to be sent, not from when a worker got to them.
func TestOpenLoopChargesQueueing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c := newClient(1)
	defer c.CloseIdleConnections()
	// 20 a second for 1 s through one worker that manages 10 a second.
	recs, elapsed := openLoop(context.Background(), c, 20, time.Second, 1, 10*time.Second, get(srv.URL, "", func() string { return "/" }))
	if got, want := len(recs), 20; got != want {
		t.Fatalf("requests = %d, want %d", got, want)
	}
	r := summarize("test", recs, elapsed)
	if len(r.Errors) > 0 {
		t.Fatalf("errors %v, want none", r.Errors)
	}
	// The last request was due at 0.95 s and answered at about 2 s.
	if r.Latency.Max < 900*time.Millisecond {
		t.Errorf("max latency = %s, want about 1 s: the wait for a worker must count", r.Latency.Max)
	}
	if elapsed < 1900*time.Millisecond {
		t.Errorf("elapsed = %s, want about 2 s", elapsed)
	}
}

// Requests still queued when the grace after the schedule ends are not sent, so an open loop
// against a server that stopped answering ends by itself.
func TestOpenLoopGivesUpAfterGrace(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stop)
	c := newClient(2)
	defer c.CloseIdleConnections()
	start := time.Now()
	recs, _ := openLoop(context.Background(), c, 50, 200*time.Millisecond, 2, 300*time.Millisecond, get(srv.URL, "", func() string { return "/" }))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("open loop took %s, want it to stop about 0.5 s after it started", took)
	}
	r := summarize("test", recs, time.Second)
	if r.Errors["not sent"] == 0 || r.Errors["canceled"] == 0 {
		t.Errorf("errors = %v, want requests not sent and requests canceled", r.Errors)
	}
}

func TestClosedLoopStopsByItself(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := newClient(4)
	defer c.CloseIdleConnections()
	recs, elapsed := closedLoop(context.Background(), c, 4, 200*time.Millisecond, get(srv.URL, "", func() string { return "/" }))
	if len(recs) == 0 || elapsed > 2*time.Second {
		t.Errorf("closed loop: %d requests in %s, want some in about 0.2 s", len(recs), elapsed)
	}
}
