package api

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// healthCache remembers the last health check for a second, so that a load balancer (or an
// attacker) polling /healthz costs one store write a second at most.
type healthCache struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// healthTTL is how long one check's answer is reused.
const healthTTL = time.Second

// healthz answers 200 when the store can write, 503 problem+json when it cannot: a server
// whose disk went read-only must not look healthy while every create fails.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.checkHealth(r.Context()); err != nil {
		w.Header().Set("Retry-After", "1")
		s.problem(w, r, http.StatusServiceUnavailable, "The server cannot store tickets right now.", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) checkHealth(ctx context.Context) error {
	if s.Health == nil {
		return nil
	}
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := s.Now(); h.at.IsZero() || now.Sub(h.at) >= healthTTL {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		h.err = s.Health(ctx)
		cancel()
		h.at = now
		if h.err != nil {
			s.Log.ErrorContext(ctx, "health check: the store cannot write", "requestId", requestID(ctx), "err", h.err)
		}
	}
	return h.err
}
