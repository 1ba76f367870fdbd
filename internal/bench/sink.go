package bench

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// sink is the webhook the server under test notifies: it answers 200 at once and records, per
// ticket ID (the JSON body's ticketId), when the first notification arrived and how many did.
type sink struct {
	URL string
	srv *http.Server

	mu      sync.Mutex
	arrived map[string]arrival
}

type arrival struct {
	first time.Time
	count int
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{URL: "http://" + ln.Addr().String() + "/hook", arrived: map[string]arrival{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		TicketID string `json:"ticketId"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	now := time.Now()
	if err != nil || json.Unmarshal(body, &p) != nil || p.TicketID == "" {
		http.Error(w, "want a JSON body with ticketId", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	a := s.arrived[p.TicketID]
	if a.count == 0 {
		a.first = now
	}
	a.count++
	s.arrived[p.TicketID] = a
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *sink) Close() error { return s.srv.Close() }

// reset forgets what arrived (between runs, to keep memory bounded: ticket IDs never repeat).
func (s *sink) reset() {
	s.mu.Lock()
	s.arrived = map[string]arrival{}
	s.mu.Unlock()
}

func (s *sink) lookup(id string) (arrival, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.arrived[id]
	return a, ok
}

// waitAll waits up to timeout for a notification of every ticket in ids, and reports whether
// all arrived and when the last of them did.
func (s *sink) waitAll(ids []string, timeout time.Duration) (drained bool, last time.Time) {
	deadline := time.Now().Add(timeout)
	next := 0 // ids[:next] have arrived
	for {
		s.mu.Lock()
		for next < len(ids) {
			a, ok := s.arrived[ids[next]]
			if !ok {
				break
			}
			if a.first.After(last) {
				last = a.first
			}
			next++
		}
		s.mu.Unlock()
		if next == len(ids) {
			return true, last
		}
		if time.Now().After(deadline) {
			return false, last
		}
		time.Sleep(5 * time.Millisecond)
	}
}
