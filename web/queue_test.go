package web_test

// The admin console for daily triage (issue 14): the live queue, search and filters in the URL,
// bulk actions, triage keys, the dense table, counts, and the live ticket page.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

)

// file creates a ticket with the given fields over the API (as curl would).
func (s *server) file(t *testing.T, fields map[string]any) ticket {
	t.Helper()
	body := map[string]any{"title": "A ticket", "description": "Filed by the browser test.", "severity": "medium",
		"category": "Network", "reporter": map[string]string{"name": "Test Reporter", "email": "reporter@example.com"}}
	for k, v := range fields {
		body[k] = v
	}
	var tk ticket
	key := fmt.Sprintf("test-%d", time.Now().UnixNano())
	if code := s.do(t, "POST", "/ticket", body, map[string]string{"Idempotency-Key": key}, &tk); code != http.StatusCreated {
		t.Fatalf("POST /ticket %v: status %d, want 201", fields, code)
	}
	return tk
}

func (s *server) setStatus(t *testing.T, id, status string) {
	t.Helper()
	if code := s.do(t, "PATCH", "/ticket/"+id, map[string]string{"status": status},
		map[string]string{"Authorization": "Bearer " + s.Token, "If-Match": "*"}, nil); code != http.StatusOK {
		t.Fatalf("PATCH /ticket/%s to %s: status %d", id, status, code)
	}
}

func (s *server) get(t *testing.T, id string) ticket {
	t.Helper()
	var tk ticket
	if code := s.do(t, "GET", "/admin/tickets/"+id, nil, map[string]string{"Authorization": "Bearer " + s.Token}, &tk); code != http.StatusOK {
		t.Fatalf("GET /admin/tickets/%s: %d", id, code)
	}
	return tk
}

// titles are the titles of the queue's rows, top to bottom.
func (tb *tab) titles() []string {
	tb.t.Helper()
	return eval[[]string](tb, `[...document.querySelectorAll('#ticket-table tbody .ticket-link')].map(a => a.textContent)`)
}

// settled waits until the queue has drawn its latest request.
func (tb *tab) settled() {
	tb.t.Helper()
	tb.wait("the queue", `document.querySelector('#ticket-table, #ticket-empty') && !document.querySelector('.queue-card[aria-busy]')`, 10*time.Second)
}

// slowHook is a webhook that answers 400 after delay: the run stays in progress that long,
// then the notification ends PARTIAL (the outbox took it).
func slowHook(t *testing.T, delay time.Duration) *httptest.Server {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		http.Error(w, "refused by the test", http.StatusBadRequest)
	}))
	t.Cleanup(hook.Close)
	return hook
}

// TestQueueUpdatesLive: with the queue open and nobody clicking, a ticket filed with curl
// appears within 2 s (in the "new tickets" banner, the rows stay put), the counts follow, a
// row whose notification ends changes in place, and relative times tick.
func TestQueueUpdatesLive(t *testing.T) {
	hook := slowHook(t, 2500*time.Millisecond)
	s := startServer(t, "--webhook", hook.URL)
	first := s.create(t, "Printer jammed", "low")
	tb := newTab(t)
	tb.signIn(s)
	tb.wait("the live feed", `document.querySelector('#live-state.is-live')`, 5*time.Second)
	row := `#ticket-table tr[data-id="` + first.ID + `"]`
	if got := tb.text(row + " [data-notification]"); !strings.Contains(got, "Pending") {
		t.Fatalf("the new ticket's notification reads %q, want Pending while the webhook holds it", got)
	}
	tb.wait("the total", `document.querySelector('.stat-total .stat-n').textContent === '1'`, 5*time.Second)
	before := tb.titles()

	start := time.Now()
	fresh := s.create(t, "Database is down", "critical")
	tb.wait("the new-ticket banner", `document.querySelector('#new-banner:not([hidden])') && document.querySelector('#new-banner').textContent.includes('Database is down')`, 2*time.Second)
	t.Logf("the ticket filed with curl appeared after %v", time.Since(start).Round(time.Millisecond))
	if got := tb.text("#new-count"); got != "1 new ticket" {
		t.Errorf("banner count = %q, want %q", got, "1 new ticket")
	}
	if got := tb.titles(); !equal(got, before) {
		t.Errorf("rows moved under the reader: %q, want %q until Show", got, before)
	}
	if got := eval[string](tb, `document.title`); !strings.HasPrefix(got, "(1 new)") {
		t.Errorf("title = %q, want it to start with (1 new)", got)
	}
	tb.wait("the counts to follow", `document.querySelector('.stat-total .stat-n').textContent === '2' && document.querySelector('[data-card="severity:critical"] .stat-n').textContent === '1'`, 3*time.Second)

	// The slow webhook refuses: the first row turns Partial by itself.
	tb.wait("the row to show the outcome", `document.querySelector('`+row+` [data-notification="PARTIAL"]')`, 8*time.Second)
	if n := tb.count(`#ticket-table .spinner`); n != 0 {
		t.Errorf("%d spinners still turn after the notification ended", n)
	}

	// Time passes (the page's clock is moved on): "just now" becomes "3 minutes ago" by itself.
	eval[bool](tb, `(() => { const real = Date.now; Date.now = () => real() + 3 * 60 * 1000; return true; })()`)
	tb.wait("relative times to tick", `document.querySelector('`+row+` .cell-time time').textContent === '3 minutes ago'`, 7*time.Second)

	tb.click("#show-new")
	tb.wait("the new ticket on top", `document.querySelector('#ticket-table tbody tr') && document.querySelector('#ticket-table tbody tr').dataset.id === '`+fresh.ID+`'`, 5*time.Second)
	if !eval[bool](tb, `document.querySelector('#new-banner').hidden`) {
		t.Error("the banner stays after Show")
	}
	tb.screenshot("admin-queue-live")
}
