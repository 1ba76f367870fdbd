package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// LimitInFlight serves at most n requests of next at once and answers the rest at once with
// a 503 problem and Retry-After: 1, so a burst queues nowhere (not in goroutines, not on the
// store's lock) and the server stays responsive to what it did accept. Refusals are logged
// at most once every 10 seconds, with how many there were.
func LimitInFlight(next http.Handler, n int, log *slog.Logger) http.Handler {
	if n <= 0 {
		return next
	}
	if log == nil {
		log = slog.Default()
	}
	slots := make(chan struct{}, n)
	var shed atomic.Int64
	var lastLog atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			var once sync.Once
			release := func() { once.Do(func() { <-slots }) }
			defer release()
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, release)))
			return
		default:
		}
		id := uuid.NewString()
		count := shed.Add(1)
		if now := time.Now().UnixNano(); now-lastLog.Load() > int64(10*time.Second) {
			lastLog.Store(now)
			log.Warn("too many requests in flight; answering 503", "limit", n, "refusedSoFar", count, "requestId", id)
		}
		h := w.Header()
		h.Set("Retry-After", "1")
		h.Set("X-Request-Id", id)
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/problem+json")
		h.Set("Connection", "close")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(Problem{
			Type:      "about:blank",
			Title:     http.StatusText(http.StatusServiceUnavailable),
			Status:    http.StatusServiceUnavailable,
			Detail:    "The server is busy; try again in a moment.",
			Instance:  r.URL.Path,
			RequestID: id,
		})
	})
}

type slotKey struct{}

// releaseSlot gives back the in-flight slot of a request that turns into a long-lived stream
// (GET /events): streams are bounded on their own and must not starve short requests.
func releaseSlot(r *http.Request) {
	if release, ok := r.Context().Value(slotKey{}).(func()); ok {
		release()
	}
}
