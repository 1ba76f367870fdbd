package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks/messagetest"
)

// memStore keeps created tickets in memory: enough for POST /ticket under the fuzzer, which
// runs far too many requests for a database.
type memStore struct {
	ticket.Store
	mu      sync.Mutex
	tickets map[string]*ticket.Ticket
}

func (m *memStore) Create(_ context.Context, t *ticket.Ticket, _ ticket.Idempotency) (*ticket.Ticket, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tickets[t.ID] = t
	return t, false, nil
}

func (m *memStore) Get(_ context.Context, id string) (*ticket.Ticket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tickets[id]; ok {
		return t, nil
	}
	return nil, ticket.ErrNotFound
}

// FuzzCreateTicket: any body POSTed to /ticket is answered 201 or a 4xx problem+json naming
// no internals, never a 5xx; what is stored passes the text policy as stored (Normalize
// leaves it unchanged) and renders on every channel without a forged line.
func FuzzCreateTicket(f *testing.F) {
	f.Add(valid)
	for _, tc := range hostileBodies {
		if tc.contentType == "" && tc.header == nil && len(tc.body) < 4096 {
			f.Add(tc.body)
		}
	}
	for _, tc := range acceptedHostile {
		if len(tc.value) < 1024 {
			f.Add(body(tc.member, q(tc.value)))
		}
	}
	store := &memStore{tickets: map[string]*ticket.Ticket{}}
	h := api.New(api.Config{Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC) }})
	cfg := ticket.Config{SubjectPrefix: "[Incident]", SiteURL: "https://help.example.com"}
	f.Fuzz(func(t *testing.T, b string) {
		req := httptest.NewRequest("POST", "/ticket", strings.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code == 201:
			var created ticket.Ticket
			if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
				t.Fatalf("201 body %q: %v", w.Body, err)
			}
			stored, err := store.Get(context.Background(), created.ID)
			if err != nil {
				t.Fatal(err)
			}
			in := ticket.NewTicket{Title: stored.Title, Description: stored.Description, Severity: stored.Severity, Category: stored.Category, Reporter: stored.Reporter}
			again := in
			again.Normalize()
			if again != in || in.Validate() != nil {
				t.Fatalf("stored %+v is not in its normal, valid form (%+v, %v)", in, again, in.Validate())
			}
			if p := messagetest.Channels(stored, cfg); p != nil {
				t.Fatalf("stored ticket renders with problems: %v", p)
			}
		case w.Code >= 400 && w.Code < 500:
			var p api.Problem
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code || p.Detail == "" {
				t.Fatalf("%d answer is not a problem: %s %q", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
		default:
			t.Fatalf("body %q answered %d %s", b, w.Code, w.Body)
		}
	})
}
