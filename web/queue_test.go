package web_test

// The admin console for daily triage (issue 14): the live queue, search and filters in the URL,
// bulk actions, triage keys, the dense table, counts, and the live ticket page.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
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

// waitFinal waits until the ticket's notification has ended (SENT, PARTIAL or FAILED).
func (s *server) waitFinal(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.get(t, id).Notification.Status == "PENDING" {
		if time.Now().After(deadline) {
			t.Fatalf("ticket %s still PENDING after 20s", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	tb.wait("the total", `document.querySelector('.stat-total .stat-n') && document.querySelector('.stat-total .stat-n').textContent === '1'`, 5*time.Second)
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

// interceptEvents routes GET /events through fn (which answers the paused request) and
// records each request's Last-Event-ID.
func interceptEvents(t *testing.T, tb *tab, s *server, fn func(n int, ev fetch.EventRequestPaused)) func() []string {
	t.Helper()
	var mu sync.Mutex
	var ids []string
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			mu.Lock()
			id, _ := ev.Request.Headers["Last-Event-ID"].(string)
			ids = append(ids, id)
			n := len(ids)
			mu.Unlock()
			fn(n, ev)
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.URL + "/events", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

// TestLiveFeedResumesWithLastEventID: a stream that ends is opened again with the ID of the
// last event it delivered, so nothing in between is lost.
func TestLiveFeedResumesWithLastEventID(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "Resumed", "high")
	tb := newTab(t)
	ready := make(chan struct{})
	requests := interceptEvents(t, tb, s, func(n int, ev fetch.EventRequestPaused) {
		if n == 1 {
			// Once the table is there, so that the event has a row to change.
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
			}
			// The first stream delivers one event for the ticket, then ends.
			body := "retry: 200\n: connected\n\nid: 41\nevent: ticket\ndata: {\"id\":\"" + tk.ID + "\",\"version\":9,\"created\":false,\"status\":\"acknowledged\",\"severity\":\"high\",\"notification\":\"SENT\",\"updatedAt\":\"2030-01-01T00:00:00Z\"}\n\n"
			_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: 200, Body: []byte(body),
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/event-stream"}},
			})
			return
		}
		_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
	})
	tb.signIn(s)
	tb.settled()
	close(ready)
	tb.wait("the event applied to the row", `document.querySelector('#ticket-table tr[data-id="`+tk.ID+`"] [data-status="acknowledged"]')`, 5*time.Second)
	tb.wait("a second stream", `document.querySelector('#live-state.is-live')`, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for len(requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	got := requests()
	if len(got) < 2 || got[0] != "" || got[1] != "41" {
		t.Fatalf("Last-Event-ID of the streams = %q, want none, then 41", got)
	}
}

// TestQueuePollsWhenThereIsNoStream: the stream refused (503, too many streams), the queue
// says so and still shows a new ticket, from GET /ticket?updatedSince=.
func TestQueuePollsWhenThereIsNoStream(t *testing.T) {
	s := startServer(t)
	s.create(t, "Already there", "low")
	tb := newTab(t)
	interceptEvents(t, tb, s, func(n int, ev fetch.EventRequestPaused) {
		_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
			RequestID: ev.RequestID, ResponseCode: 503, Body: []byte(`{"title":"Service Unavailable"}`),
			ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/problem+json"}, {Name: "Retry-After", Value: "60"}},
		})
	})
	tb.signIn(s)
	tb.wait("the polling state", `document.querySelector('#live-state.is-reconnecting, #live-state.is-polling')`, 5*time.Second)
	s.create(t, "Seen by polling", "high")
	tb.wait("the banner from polling", `document.querySelector('#new-banner:not([hidden])') && document.querySelector('#new-banner').textContent.includes('Seen by polling')`, 8*time.Second)
}

// awsMode serves the config.js a CloudFront deployment gets (the API stays on this origin).
func awsMode(t *testing.T, tb *tab, s *server, also ...*fetch.RequestPattern) {
	t.Helper()
	awsConfig := []byte(`window.INCIDENTS_CONFIG = {"apiBase": "", "mode": "aws", "region": "eu-west-1"};`)
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if strings.HasSuffix(ev.Request.URL, "/config.js") {
				_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: 200, Body: awsConfig,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript"}},
				})
				continue
			}
			t.Errorf("the app asked for %s on AWS, where there is no live stream", ev.Request.URL)
			_, _ = chromedp.Call(tb.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: "Failed"})
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.URL + "/config.js", RequestStage: fetch.RequestStageRequest},
		{URLPattern: s.URL + "/events*", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		t.Fatal(err)
	}
}

// TestQueueOnAWSPollsUpdatedSince: on AWS the queue never opens a stream; it polls, offers
// only the sorts DynamoDB has, and still shows new tickets.
func TestQueueOnAWSPollsUpdatedSince(t *testing.T) {
	s := startServer(t)
	s.create(t, "Before", "low")
	tb := newTab(t)
	awsMode(t, tb, s)
	tb.signIn(s)
	tb.wait("the polling state", `document.querySelector('#live-state.is-polling')`, 5*time.Second)
	if got := eval[[]string](tb, `[...document.querySelectorAll('#filter-sort option')].map(o => o.value)`); !equal(got, []string{"filed", "age"}) {
		t.Errorf("sorts offered on AWS = %q, want filed and age only", got)
	}
	s.create(t, "After", "critical")
	tb.wait("the banner from polling", `document.querySelector('#new-banner:not([hidden])') && document.querySelector('#new-banner').textContent.includes('After')`, 8*time.Second)
}

// TestNewestListAnswerWins: a slow answer for the old filter arrives after the answer for the
// new one; the table must show what the filter selects.
func TestNewestListAnswerWins(t *testing.T) {
	s := startServer(t)
	s.create(t, "Low one", "low")
	s.create(t, "High one", "high")
	tb := newTab(t)
	tb.signIn(s)
	tb.settled()
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			u := ev.Request.URL
			// The unfiltered page answer is held back 1.5 s; everything else goes at once.
			if !strings.Contains(u, "severity=") && !strings.Contains(u, "updatedSince") && strings.Contains(u, "limit=25") {
				go func() {
					time.Sleep(1500 * time.Millisecond)
					_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				}()
				continue
			}
			_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.URL + "/ticket?*", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatal(err)
	}
	tb.click("#refresh")
	tb.choose("#filter-severity", "high")
	tb.wait("the high ticket", `document.querySelectorAll('#ticket-table tbody tr').length === 1`, 5*time.Second)
	time.Sleep(2 * time.Second) // the slow answer has arrived by now
	if got := tb.titles(); !equal(got, []string{"High one"}) {
		t.Errorf("with severity=high the table shows %q, want only the high ticket", got)
	}
}

// TestSearchFiltersAndSortLiveInTheURL: a filtered address opens filtered; search, filters and
// sort go into the URL, survive a reload, and Back returns to the previous filters.
func TestSearchFiltersAndSortLiveInTheURL(t *testing.T) {
	s := startServer(t)
	vpn := s.file(t, map[string]any{"title": "VPN drops every ten minutes", "severity": "high", "category": "Network"})
	printer := s.file(t, map[string]any{"title": "Printer on floor 3", "severity": "low", "category": "Hardware",
		"reporter": map[string]string{"name": "Grace Hopper", "email": "grace@example.com"}})
	mail := s.file(t, map[string]any{"title": "Mail bounces", "severity": "critical", "category": "Email", "description": "Messages to the vpn team bounce."})
	s.setStatus(t, printer.ID, "resolved")
	s.waitNotified(t, vpn.ID, printer.ID, mail.ID)

	tb := newTab(t)
	tb.signIn(s)
	tb.open(s.URL + "/#/admin?status=resolved")
	tb.settled()
	tb.wait("only the resolved ticket", `document.querySelectorAll('#ticket-table tbody tr').length === 1`, 5*time.Second)
	if got := tb.titles(); !equal(got, []string{"Printer on floor 3"}) {
		t.Errorf("#/admin?status=resolved shows %q, want the resolved ticket only", got)
	}
	if got := eval[string](tb, `document.querySelector('#filter-status').value`); got != "resolved" {
		t.Errorf("the status filter shows %q, want resolved", got)
	}

	// Search: words match the start of words in the title, description, reporter or ID.
	tb.choose("#filter-status", "")
	tb.settled()
	search := func(q string, want ...string) {
		t.Helper()
		tb.clearField("#queue-search")
		tb.do(chromedp.SendKeys(chromedp.CSS("#queue-search"), q+"\n"))
		tb.wait("the search "+q, `location.hash.includes('q=') && !document.querySelector('.queue-card[aria-busy]')`, 5*time.Second)
		tb.wait("the results of "+q, fmt.Sprintf(`[...document.querySelectorAll('#ticket-table tbody .ticket-link')].map(a => a.textContent).sort().join('|') === %q || (%d === 0 && document.querySelector('#ticket-empty'))`, strings.Join(sortedCopy(want), "|"), len(want)), 5*time.Second)
	}
	search("vpn", "Mail bounces", "VPN drops every ten minutes")
	search("grace", "Printer on floor 3")
	search(mail.ID, "Mail bounces")
	search("nothing-like-this")
	tb.clearField("#queue-search")
	tb.do(chromedp.SendKeys(chromedp.CSS("#queue-search"), "vpn\n"))
	tb.settled()

	// Filters and sort join the search in the URL.
	tb.choose("#filter-notification", "SENT")
	tb.settled()
	tb.choose("#filter-sort", "severity")
	tb.wait("sorted by severity", `document.querySelector('#ticket-table tbody .ticket-link') && document.querySelector('#ticket-table tbody .ticket-link').textContent === 'Mail bounces'`, 5*time.Second)
	if got, want := tb.titles(), []string{"Mail bounces", "VPN drops every ten minutes"}; !equal(got, want) {
		t.Errorf("sorted by severity: %q, want %q", got, want)
	}
	hash := eval[string](tb, `location.hash`)
	for _, p := range []string{"q=vpn", "notification=SENT", "sort=severity"} {
		if !strings.Contains(hash, p) {
			t.Errorf("the URL %q lacks %s", hash, p)
		}
	}
	if got := eval[int](tb, `document.querySelectorAll('#ticket-table th[aria-sort]').length`); got != 1 {
		t.Errorf("%d columns say they are sorted, want 1", got)
	}

	tb.do(chromedp.Reload())
	tb.settled()
	if got := eval[string](tb, `location.hash`); got != hash {
		t.Errorf("after reload the URL is %q, want %q", got, hash)
	}
	tb.wait("the same rows after reload", `document.querySelectorAll('#ticket-table tbody tr').length === 2`, 5*time.Second)
	if got, want := tb.titles(), []string{"Mail bounces", "VPN drops every ten minutes"}; !equal(got, want) {
		t.Errorf("after reload: %q, want %q", got, want)
	}
	for sel, want := range map[string]string{"#queue-search": "vpn", "#filter-notification": "SENT", "#filter-sort": "severity"} {
		if got := eval[string](tb, `document.querySelector('`+sel+`').value`); got != want {
			t.Errorf("after reload %s = %q, want %q", sel, got, want)
		}
	}
	if got := tb.text("#result-count"); got != "Showing 1–2 of 2 tickets" {
		t.Errorf("result count = %q, want %q", got, "Showing 1–2 of 2 tickets")
	}

	// Back undoes the sort, then the notification filter.
	tb.do(chromedp.NavigateBack())
	tb.wait("the sort undone", `document.querySelector('#filter-sort').value === 'filed' && !location.hash.includes('sort=')`, 5*time.Second)
	tb.do(chromedp.NavigateBack())
	tb.wait("the notification filter undone", `document.querySelector('#filter-notification').value === '' && location.hash.includes('q=vpn')`, 5*time.Second)

	// Saved views are links; "Open critical" selects open critical tickets.
	tb.click(`.view-link[data-view="open-critical"]`)
	tb.wait("the view", `location.hash.includes('severity=critical') && location.hash.includes('status=open')`, 5*time.Second)
	tb.settled()
	tb.wait("the open critical ticket", `document.querySelectorAll('#ticket-table tbody tr').length === 1`, 5*time.Second)
	if got := tb.titles(); !equal(got, []string{"Mail bounces"}) {
		t.Errorf("Open critical shows %q", got)
	}
	if got := eval[string](tb, `document.querySelector('.view-link[aria-current="page"]').textContent`); got != "Open critical" {
		t.Errorf("the current view is %q", got)
	}
	if got := eval[string](tb, `document.title`); !strings.HasPrefix(got, "Open critical · Tickets") {
		t.Errorf("title = %q, want the view's name", got)
	}
	tb.screenshot("admin-queue-search")
}

func sortedCopy(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestPagingCountsAndPreviousAfterReload: "Showing 11–12 of 12", and Previous works after a
// reload on page 2 (the cursors are kept for the tab).
func TestPagingCountsAndPreviousAfterReload(t *testing.T) {
	s := startServer(t)
	for i := 1; i <= 12; i++ {
		s.create(t, fmt.Sprintf("Ticket %02d", i), "medium")
		time.Sleep(3 * time.Millisecond)
	}
	tb := newTab(t)
	tb.signIn(s)
	tb.choose("#page-size", "10")
	tb.wait("10 rows", `document.querySelectorAll('#ticket-table tbody tr').length === 10`, 5*time.Second)
	if got := tb.text("#result-count"); got != "Showing 1–10 of 12 tickets" {
		t.Errorf("result count = %q", got)
	}
	tb.click("#page-next")
	tb.wait("page 2", `document.querySelector('#page-no').textContent === 'Page 2' && document.querySelectorAll('#ticket-table tbody tr').length === 2`, 5*time.Second)
	if got := tb.text("#result-count"); got != "Showing 11–12 of 12 tickets" {
		t.Errorf("result count on page 2 = %q", got)
	}
	tb.do(chromedp.Reload())
	tb.wait("page 2 after reload", `document.querySelector('#page-no') && document.querySelector('#page-no').textContent === 'Page 2' && document.querySelectorAll('#ticket-table tbody tr').length === 2`, 5*time.Second)
	if got, want := tb.titles(), []string{"Ticket 02", "Ticket 01"}; !equal(got, want) {
		t.Errorf("page 2 after reload = %q, want %q", got, want)
	}
	tb.click("#page-prev")
	tb.wait("page 1", `document.querySelector('#page-no').textContent === 'Page 1' && document.querySelectorAll('#ticket-table tbody tr').length === 10`, 5*time.Second)
}

// TestBulkActionsReportEachTicket: three selected, one already acknowledged: two change, the
// third says why not and stays selected; retry notification works on failed ones only.
func TestBulkActionsReportEachTicket(t *testing.T) {
	s := startServer(t)
	a := s.create(t, "Bulk A", "high")
	b := s.create(t, "Bulk B", "high")
	c := s.create(t, "Bulk C", "high")
	s.setStatus(t, b.ID, "acknowledged")
	tb := newTab(t)
	tb.signIn(s)
	tb.settled()
	for _, id := range []string{a.ID, b.ID, c.ID} {
		tb.click(`#ticket-table tr[data-id="` + id + `"] .row-select`)
	}
	tb.wait("the bulk bar", `document.querySelector('#bulk-bar:not([hidden])') && document.querySelector('#bulk-count').textContent === '3 tickets selected'`, 2*time.Second)
	tb.screenshot("admin-queue-bulk")
	tb.click(`#bulk-bar [data-action="acknowledge"]`)
	tb.wait("the summary", `document.querySelector('#bulk-summary')`, 5*time.Second)
	if got := tb.text("#bulk-summary p"); got != "Acknowledged 2 tickets; 1 could not be changed." {
		t.Errorf("summary = %q", got)
	}
	if got := tb.text(`#bulk-summary li[data-id="` + b.ID + `"]`); !strings.Contains(got, "Bulk B") || !strings.Contains(got, "already acknowledged") {
		t.Errorf("the failure for B reads %q, want its title and why", got)
	}
	if got := tb.activeID(); got != "bulk-summary" {
		t.Errorf("focus after the bulk action is on %q, want the summary", got)
	}
	for id, want := range map[string]string{a.ID: "acknowledged", b.ID: "acknowledged", c.ID: "acknowledged"} {
		if got := s.get(t, id).Status; got != want {
			t.Errorf("ticket %s is %s, want %s", id, got, want)
		}
		if got := eval[string](tb, `document.querySelector('#ticket-table tr[data-id="`+id+`"] [data-status]').dataset.status`); got != want {
			t.Errorf("row %s shows %s, want %s", id, got, want)
		}
	}
	if got := eval[[]string](tb, `[...document.querySelectorAll('#ticket-table .row-select:checked')].map(b => b.closest('tr').dataset.id)`); !equal(got, []string{b.ID}) {
		t.Errorf("selected after the action: %q, want only the one that failed", got)
	}
	if got := tb.count(`#ticket-table tr[data-bulk="failed"]`); got != 1 {
		t.Errorf("%d rows marked failed, want 1", got)
	}

	// Select all, resolve: one request, every row resolved.
	tb.click("#select-all")
	tb.wait("all selected", `document.querySelector('#bulk-count').textContent === '3 tickets selected'`, 2*time.Second)
	tb.click(`#bulk-bar [data-action="resolve"]`)
	tb.wait("the resolve summary", `document.querySelector('#bulk-summary') && document.querySelector('#bulk-summary p').textContent === 'Resolved 3 tickets.'`, 5*time.Second)
	if !eval[bool](tb, `document.querySelector('#bulk-bar').hidden`) {
		t.Error("the bulk bar stays with nothing selected")
	}
}

// TestRetryNotificationFromTheQueue: the Partial count leads to the partly notified tickets
// (focus stays on the count), and retry notification sends them again on the channel that
// refused.
func TestRetryNotificationFromTheQueue(t *testing.T) {
	var mu sync.Mutex
	refuse := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "refused", http.StatusBadRequest)
		}
	}))
	defer hook.Close()
	s := startServer(t, "--webhook", hook.URL)
	tk := s.create(t, "Nobody told", "critical")
	ok := s.create(t, "Fine", "low")
	s.waitFinal(t, tk.ID)
	s.waitFinal(t, ok.ID)
	tb := newTab(t)
	tb.signIn(s)
	tb.wait("the partial count", `document.querySelector('[data-card="notification:PARTIAL"] .stat-n') && document.querySelector('[data-card="notification:PARTIAL"] .stat-n').textContent === '2'`, 5*time.Second)
	tb.click(`[data-card="notification:PARTIAL"]`)
	tb.wait("the partial filter", `location.hash.includes('notification=PARTIAL')`, 2*time.Second)
	if got := eval[string](tb, `document.activeElement.dataset.card || document.activeElement.id`); got != "notification:PARTIAL" {
		t.Errorf("after clicking the count focus is on %q, want the count card", got)
	}
	if got := eval[string](tb, `document.querySelector('[data-card="notification:PARTIAL"]').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("the Partial card is not pressed: %q", got)
	}
	tb.settled()
	mu.Lock()
	refuse = false
	mu.Unlock()
	tb.click(`#ticket-table tr[data-id="` + tk.ID + `"] .row-select`)
	tb.click(`#bulk-bar [data-action="retry-notification"]`)
	tb.wait("the retry summary", `document.querySelector('#bulk-summary p') && document.querySelector('#bulk-summary p').textContent === 'Retried the notification of 1 ticket.'`, 5*time.Second)
	tb.wait("the row to turn SENT live", `document.querySelector('#ticket-table tr[data-id="`+tk.ID+`"] [data-notification="SENT"]')`, 10*time.Second)
	if got := s.get(t, tk.ID).Notification.Status; got != "SENT" {
		t.Errorf("after the retry the notification is %s, want SENT", got)
	}
}

// TestFailedCountLeadsToTheFailedTickets: with notifications switched off every ticket ends
// FAILED; the Failed count filters the queue to them and keeps focus.
func TestFailedCountLeadsToTheFailedTickets(t *testing.T) {
	s := startServer(t, "--notifications=false")
	tk := s.create(t, "Nobody told", "critical")
	s.waitNotified(t, tk.ID)
	tb := newTab(t)
	tb.signIn(s)
	tb.wait("the failed count", `document.querySelector('[data-card="notification:FAILED"] .stat-n') && document.querySelector('[data-card="notification:FAILED"] .stat-n').textContent === '1'`, 5*time.Second)
	tb.click(`[data-card="notification:FAILED"]`)
	tb.wait("the failed filter", `location.hash.includes('notification=FAILED') && document.querySelector('#filter-notification').value === 'FAILED'`, 2*time.Second)
	tb.settled()
	if got := eval[string](tb, `document.activeElement.dataset.card || document.activeElement.id || document.activeElement.tagName`); got != "notification:FAILED" {
		t.Errorf("after clicking the count focus is on %q, want the count card", got)
	}
	if got := tb.titles(); !equal(got, []string{"Nobody told"}) {
		t.Errorf("the failed tickets are %q", got)
	}
}

// TestTriageKeys: j/k move through the rows and say where, a and r act on the row, x selects,
// / goes to the search, Enter opens, ? lists every key.
func TestTriageKeys(t *testing.T) {
	s := startServer(t)
	one := s.create(t, "First in line", "high")
	two := s.create(t, "Second in line", "critical")
	tb := newTab(t)
	tb.signIn(s)
	tb.settled()
	eval[bool](tb, `(document.activeElement.blur(), true)`)
	key := tb.press
	key("j")
	tb.wait("the first row", `document.activeElement.classList.contains('ticket-link') && document.activeElement.dataset.id === '`+two.ID+`'`, 2*time.Second)
	tb.wait("the announcement", `document.getElementById('announcer').textContent.startsWith('Ticket 1 of 2')`, 2*time.Second)
	key("j")
	tb.wait("the second row", `document.activeElement.dataset.id === '`+one.ID+`'`, 2*time.Second)
	key("k")
	tb.wait("back to the first row", `document.activeElement.dataset.id === '`+two.ID+`'`, 2*time.Second)
	key("a")
	tb.wait("acknowledged by key", `document.querySelector('#ticket-table tr[data-id="`+two.ID+`"] [data-status="acknowledged"]')`, 5*time.Second)
	if got := s.get(t, two.ID).Status; got != "acknowledged" {
		t.Errorf("after a the ticket is %s", got)
	}
	tb.do(chromedp.Focus(chromedp.CSS(`#ticket-table tr[data-id="` + one.ID + `"] .ticket-link`)))
	key("x")
	tb.wait("selected by key", `document.querySelector('#ticket-table tr[data-id="`+one.ID+`"] .row-select').checked`, 2*time.Second)
	key("r")
	tb.wait("resolved by key", `document.querySelector('#ticket-table tr[data-id="`+one.ID+`"] [data-status="resolved"]')`, 5*time.Second)

	key("/")
	tb.wait("the search", `document.activeElement.id === 'queue-search'`, 2*time.Second)
	// Typing in a field is typing, not shortcuts.
	tb.press("jar")
	if got := eval[string](tb, `document.querySelector('#queue-search').value`); got != "jar" {
		t.Errorf("the search field holds %q, want what was typed", got)
	}
	tb.clearField("#queue-search")
	tb.settled()
	eval[bool](tb, `(document.activeElement.blur(), true)`)

	key("?")
	tb.wait("the shortcuts dialog", `document.querySelector('#shortcuts-dialog[open]')`, 2*time.Second)
	list := tb.text("#shortcuts-dialog")
	for _, want := range []string{"Next ticket", "Previous ticket", "Acknowledge", "Resolve", "Search", "Open the ticket"} {
		if !strings.Contains(list, want) {
			t.Errorf("the shortcuts dialog lacks %q: %q", want, list)
		}
	}
	tb.screenshot("admin-shortcuts")
	tb.axeBoth("the shortcuts dialog")
	key(kb.Escape)
	tb.wait("the dialog closed", `!document.querySelector('#shortcuts-dialog')`, 2*time.Second)

	key("j")
	tb.wait("a row", `document.activeElement.classList.contains('ticket-link')`, 2*time.Second)
	key(kb.Enter)
	tb.wait("the ticket page", `location.hash.startsWith('#/admin/ticket/')`, 5*time.Second)
	tb.wait("the ticket", `document.querySelector('#ticket-title')`, 5*time.Second)
	key("u")
	tb.wait("back in the queue", `location.hash.startsWith('#/admin') && !location.hash.startsWith('#/admin/') && document.querySelector('#ticket-table')`, 5*time.Second)
}

// TestDenseTableAndPhoneList: a 200-character title keeps its row one line high and the Title
// column wide, with the full text on focus; on a 360 px phone several tickets fit on the first
// screen.
func TestDenseTableAndPhoneList(t *testing.T) {
	s := startServer(t)
	long := strings.Repeat("Very long title ", 13)[:199] + "!"
	for i := 1; i <= 8; i++ {
		s.create(t, fmt.Sprintf("Short ticket %d", i), "medium")
	}
	lt := s.file(t, map[string]any{"title": long, "severity": "high", "reporter": map[string]string{"name": "Maximilian Alexander von Habsburg-Lothringen", "email": "max@example.com"}})
	tb := newTab(t)
	tb.signIn(s)
	tb.settled()
	row := `#ticket-table tr[data-id="` + lt.ID + `"]`
	if h := eval[float64](tb, `document.querySelector('`+row+`').getBoundingClientRect().height`); h > 56 {
		t.Errorf("the row with a 200-character title is %.0f px high, want one line (≤ 56)", h)
	}
	if w := eval[float64](tb, `document.querySelector('#ticket-table th.col-title').getBoundingClientRect().width`); w < 380 {
		t.Errorf("the Title column is %.0f px wide, want at least 380", w)
	}
	short := `#ticket-table tbody tr:last-child`
	if a, b := eval[float64](tb, `document.querySelector('`+row+` .cell-title').getBoundingClientRect().width`), eval[float64](tb, `document.querySelector('`+short+` .cell-title').getBoundingClientRect().width`); a != b {
		t.Errorf("the Title column is %.0f px in one row and %.0f in another: widths must be stable", a, b)
	}
	tb.do(chromedp.Focus(chromedp.CSS(row + " .ticket-link")))
	tb.wait("the full title on focus", `document.querySelector('#title-tip') && document.querySelector('#title-tip').textContent === `+jsString(long), 2*time.Second)
	if got := eval[string](tb, `document.querySelector('`+row+` .ticket-link').textContent`); got != long {
		t.Errorf("the link's text (its accessible name) is cut: %q", got)
	}
	tb.screenshot("admin-queue-dense")

	tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	tb.do(chromedp.Reload())
	tb.settled()
	if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the queue is %d px wide on a 360 px phone", w)
	}
	top := eval[float64](tb, `document.querySelector('#ticket-table tbody tr').getBoundingClientRect().top + scrollY`)
	visible := eval[int](tb, `[...document.querySelectorAll('#ticket-table tbody tr')].filter(r => r.getBoundingClientRect().bottom + scrollY <= 740).length`)
	t.Logf("on a 360×740 phone the first ticket starts at %.0f px and %d tickets fit on the first screen", top, visible)
	if top > 460 || visible < 4 {
		t.Errorf("on a 360×740 phone the first ticket starts at %.0f px and %d fit on the first screen; want it above 460 px and at least 4", top, visible)
	}
	if h := eval[float64](tb, `document.querySelector('`+row+`').getBoundingClientRect().height`); h > 72 {
		t.Errorf("on the phone the long ticket's row is %.0f px high, want ≤ 72", h)
	}
	tb.screenshot("mobile-admin-table")
}

// TestCountsFollowTheFilters: with a filter, each count says what clicking it would find.
func TestCountsFollowTheFilters(t *testing.T) {
	s := startServer(t)
	h1 := s.create(t, "High open", "high")
	h2 := s.create(t, "High resolved", "high")
	s.create(t, "Low open", "low")
	s.setStatus(t, h2.ID, "resolved")
	tb := newTab(t)
	tb.signIn(s)
	tb.wait("all counts", `document.querySelector('[data-card="status:open"] .stat-n') && document.querySelector('[data-card="status:open"] .stat-n').textContent === '2'`, 5*time.Second)
	tb.choose("#filter-severity", "high")
	tb.wait("the counts within severity=high", `document.querySelector('[data-card="status:open"] .stat-n').textContent === '1' && document.querySelector('[data-card="status:resolved"] .stat-n').textContent === '1' && document.querySelector('[data-card="severity:low"] .stat-n').textContent === '1'`, 5*time.Second)
	if got := tb.text(".stat-total .stat-n"); got != "2" {
		t.Errorf("total under severity=high = %q, want 2", got)
	}
	_ = h1
}

// TestTicketPageUpdatesLive: someone else acknowledges the ticket with curl; the open page
// shows it within 2 s, says so, and keeps the reader's focus.
func TestTicketPageUpdatesLive(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "Watched", "high")
	s.waitNotified(t, tk.ID)
	tb := newTab(t)
	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the ticket", `document.querySelector('#ticket-title') && document.querySelector('#execution svg')`, 10*time.Second)
	if got := eval[string](tb, `document.title`); got != "Watched · Admin · Incident Manager" {
		t.Errorf("title = %q", got)
	}
	tb.do(chromedp.Focus(chromedp.CSS(`.lifecycle button[data-to="resolved"]`)))
	s.setStatus(t, tk.ID, "acknowledged")
	tb.wait("the change", `document.querySelector('#ticket-status [data-status="acknowledged"]')`, 2*time.Second)
	tb.wait("the announcement", `document.getElementById('announcer').textContent === 'The ticket is now acknowledged.'`, 2*time.Second)
	if got := eval[string](tb, `document.activeElement.dataset.to || document.activeElement.id`); got != "resolved" {
		t.Errorf("after the live update focus is on %q, want the Resolve button", got)
	}
	tb.press("r")
	tb.wait("resolved by key", `document.querySelector('#ticket-status [data-status="resolved"]')`, 5*time.Second)
}
