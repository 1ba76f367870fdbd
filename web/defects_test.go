package web_test

// One test per defect found trying the app as reporters and admins would (issue 14), plus
// axe-core on every page in both colour schemes, and dark mode.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestErrorSummaryLinkMovesToItsFieldOnly: Enter on a link of the error summary moves to the
// field, and does not submit the form again (which moved focus back to the summary: a loop);
// the summary is announced with its heading.
func TestErrorSummaryLinkMovesToItsFieldOnly(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.fill(report{severity: "low", email: "ada@example.com"})
	tb.click("#submit-ticket")
	tb.wait("the error summary", `document.activeElement.classList.contains('error-summary')`, 5*time.Second)
	var alert bool
	for _, n := range tb.axNodes() {
		if n.role == "alert" && n.name == "Please fix the following" {
			alert = true
		}
	}
	if !alert {
		t.Error("the error summary is not announced as an alert named by its heading")
	}
	tb.press("\t")
	if got := eval[string](tb, `document.activeElement.getAttribute('href')`); got != "#f-title" {
		t.Fatalf("Tab from the summary reached %q, want its first link", got)
	}
	// Enter as the session sent it: keydown, then the character as an event of its
	// own, which lands in whatever has focus once the keydown has moved it.
	tb.do(chromedp.KeyEvent(kb.Enter))
	time.Sleep(400 * time.Millisecond)
	if got := tb.activeID(); got != "f-title" {
		t.Errorf("Enter on the summary's link left focus on %q, want the title field (the form was submitted again)", got)
	}
	if n := len(s.tickets(t)); n != 0 {
		t.Errorf("%d tickets filed", n)
	}
}

// TestOutboxCardIsNeverEmpty: while a run is still delivering, the "Messages sent" card says
// so, and shows the message once the outbox has it.
func TestOutboxCardIsNeverEmpty(t *testing.T) {
	hook := slowHook(t, 3*time.Second)
	s := startServer(t, "--webhook", hook.URL)
	tk := s.create(t, "Slow to notify", "high")
	tb := newTab(t)
	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the ticket", `document.querySelector('#ticket-title')`, 5*time.Second)
	// Watch the card from now on: it must never be on the page with nothing in it.
	eval[bool](tb, `(window.emptyOutbox = 0, setInterval(() => { const o = document.querySelector('#outbox'); if (o && o.isConnected && o.children.length <= 1) window.emptyOutbox++; }, 50), true)`)
	tb.wait("the outbox card filled", `document.querySelector('#outbox h2') && document.querySelector('#outbox').children.length > 1`, 5*time.Second)
	if got := tb.text("#outbox"); !strings.Contains(got, "Delivery is going on") && !strings.Contains(got, "[Incident") {
		t.Errorf("during the run the outbox card reads %q, want that delivery is going on or the message", got)
	}
	tb.wait("the message", `document.querySelector('#outbox .outbox-body')`, 10*time.Second)
	tb.wait("the run's end", `!document.querySelector('#outbox-pending') && document.querySelector('[data-notification="PARTIAL"]')`, 10*time.Second)
	if n := eval[int](tb, `window.emptyOutbox`); n > 0 {
		t.Errorf("the Messages sent card was empty in %d samples of 50 ms during the run", n)
	}
}

// TestOneTimeFormatWithTimeZone: every exact time, on every page, in one format that names
// its time zone.
func TestOneTimeFormatWithTimeZone(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "When was that", "low")
	s.waitNotified(t, tk.ID)
	s.setStatus(t, tk.ID, "acknowledged")
	tb := newTab(t)
	tb.timeZone("Asia/Kolkata")
	check := func(where string, least int) {
		t.Helper()
		bad := eval[[]string](tb, `(() => {
			const f = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'long'});
			const out = [];
			for (const el of document.querySelectorAll('main time')) {
				const want = f.format(new Date(el.dateTime));
				const shown = el.hasAttribute('data-relative') ? el.title : el.textContent;
				if (shown !== want || !/GMT\+5:30/.test(shown)) out.push(shown + ' (want ' + want + ')');
			}
			return out;
		})()`)
		if len(bad) > 0 {
			t.Errorf("%s shows times in another format or without the zone: %q", where, bad)
		}
		if n := tb.count("main time"); n < least {
			t.Errorf("%s shows %d times", where, n)
		}
	}
	tb.open(s.URL + "/#/ticket/" + tk.ID)
	tb.wait("the status page", `document.querySelector('.timeline')`, 5*time.Second)
	check("the status page", 3)
	tb.signIn(s)
	check("the queue", 1)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the detail", `document.querySelector('.timeline') && document.querySelector('#executions-table')`, 10*time.Second)
	check("the admin detail", 5)
}

// TestNotificationRunIsOneTimelineEntry: a run that reached one channel of three is one entry
// with its steps inside; the reporter reads one plain sentence about it, without the channel
// errors; a retry is a run of its own.
func TestNotificationRunIsOneTimelineEntry(t *testing.T) {
	var mu sync.Mutex
	refuse := true
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "refused by the test", http.StatusBadRequest)
		}
	})
	h1, h2 := httptest.NewServer(handler), httptest.NewServer(handler)
	defer h1.Close()
	defer h2.Close()
	s := startServer(t, "--webhook", h1.URL, "--webhook", h2.URL)
	tk := s.create(t, "Two webhooks refuse", "critical")
	tb := newTab(t)
	tb.open(s.URL + "/#/ticket/" + tk.ID)
	tb.wait("PARTIAL", `document.querySelector('#notify-panel[data-notification-status="PARTIAL"]')`, 20*time.Second)
	tb.wait("the timeline", `document.querySelectorAll('.timeline > li').length === 2`, 5*time.Second)
	if got := eval[[]string](tb, `[...document.querySelectorAll('.timeline > li')].map(li => li.dataset.type)`); !equal(got, []string{"created", "notification.partial"}) {
		t.Errorf("the reporter's timeline = %q, want the filing and one notification entry", got)
	}
	rep := tb.text(".timeline")
	if !strings.Contains(rep, "not on every channel") || strings.Contains(rep, "refused") || strings.Contains(rep, "webhook") || strings.Contains(rep, "Delivered") {
		t.Errorf("the reporter reads %q, want one plain sentence and no delivery details", rep)
	}
	if got := tb.text("#notify-reached"); got != "1 of 3 ways of reaching them worked." {
		t.Errorf("the reporter's panel says %q", got)
	}

	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the admin timeline", `document.querySelector('.timeline .tl-steps')`, 10*time.Second)
	if got := eval[[]string](tb, `[...document.querySelectorAll('.timeline > li')].map(li => li.dataset.type)`); !equal(got, []string{"created", "notification.partial"}) {
		t.Errorf("the admin timeline = %q, want the filing and one run", got)
	}
	if got := tb.text(".timeline .tl-steps summary"); got != "3 steps: 1 delivered, 2 failed" {
		t.Errorf("the run's summary = %q", got)
	}
	tb.click(".timeline .tl-steps summary")
	if n := tb.count(`.tl-substeps li[data-type="notification.channel_failed"]`); n != 2 {
		t.Errorf("%d failed channels inside the run, want 2", n)
	}
	if got := tb.count(`#delivery [data-channel-status="FAILED"]`); got != 2 {
		t.Errorf("%d channels shown failed, want 2", got)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	tb.click(`.lifecycle button[data-to="retry"]`)
	tb.wait("the second run", `document.querySelectorAll('.timeline > li').length === 3 && document.querySelector('.timeline > li:last-child').dataset.type === 'notification.sent'`, 15*time.Second)
	if got := tb.text(".timeline > li:last-child .tl-head strong"); got != "Responders notified (after a retry)" {
		t.Errorf("the retried run reads %q", got)
	}
	// Both runs carry the ticket's ID as their name; the list tells them apart.
	tb.wait("two runs listed", `document.querySelectorAll('#executions-table tbody tr').length === 2 && document.querySelector('#execution-status')`, 10*time.Second)
	if n := tb.count(`#executions-table tr.is-current`); n != 1 {
		t.Errorf("%d runs are marked as the one shown, want 1", n)
	}
	tb.click("#executions-table tbody button")
	tb.wait("the first run's diagram", `document.querySelector('#execution-status') && document.querySelector('#execution-status').textContent === 'FAILED'`, 10*time.Second)
	tb.screenshot("admin-detail-runs")
}

// TestUnknownTicketIsExplainedWithoutRetry: an ID that does not exist will not exist on a
// retry: the page says what to check and offers a way on instead of "Try again".
func TestUnknownTicketIsExplainedWithoutRetry(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	const id = "01890000-0000-7000-8000-000000000000"
	tb.open(s.URL + "/#/ticket/" + id)
	tb.wait("the error", `document.querySelector('#not-found')`, 10*time.Second)
	if got := tb.text("#not-found p"); !strings.Contains(got, "There is no ticket with the ID "+id) {
		t.Errorf("message = %q", got)
	}
	if n := tb.count("#not-found button"); n != 0 {
		t.Error("an unknown ticket offers to try again")
	}
	if got := eval[string](tb, `document.querySelector('#not-found a').getAttribute('href')`); got != "#/mine" {
		t.Errorf("the way on is %q, want My tickets", got)
	}
	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + id)
	tb.wait("the admin error", `document.querySelector('#not-found')`, 10*time.Second)
	if n := tb.count("#not-found button"); n != 0 {
		t.Error("the admin page offers to try again for an unknown ticket")
	}
	if got := eval[string](tb, `document.title`); got != "Ticket not found · Admin · Incident Manager" {
		t.Errorf("title = %q", got)
	}
}

// TestEveryAdminPageHasItsOwnTitle: tabs tell apart the queue's views and each ticket.
func TestEveryAdminPageHasItsOwnTitle(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "Disk full on db-2", "critical")
	tb := newTab(t)
	tb.open(s.URL + "/#/admin")
	tb.wait("sign-in", `document.querySelector('#admin-token')`, 5*time.Second)
	titles := map[string]bool{eval[string](tb, `document.title`): true}
	tb.signIn(s)
	tb.settled()
	for _, u := range []string{"/#/admin", "/#/admin?notification=FAILED", "/#/admin?q=disk", "/#/admin/ticket/" + tk.ID} {
		tb.open(s.URL + u)
		tb.wait("the page", `document.querySelector('#ticket-table, #ticket-empty, #ticket-title')`, 10*time.Second)
		time.Sleep(100 * time.Millisecond)
		got := eval[string](tb, `document.title`)
		if titles[got] {
			t.Errorf("%s has the title %q of another page", u, got)
		}
		titles[got] = true
	}
	for _, want := range []string{"Admin sign-in · Incident Manager", "All tickets · Tickets · Incident Manager", "Failed notifications · Tickets · Incident Manager", "Search “disk” · Tickets · Incident Manager", "Disk full on db-2 · Admin · Incident Manager"} {
		if !titles[want] {
			t.Errorf("no page is titled %q (titles: %q)", want, keys(titles))
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestAccessibilityOfEveryPage runs axe-core on every page and state, wide and at 360 px, in
// the light and the dark colour scheme: zero violations.
func TestAccessibilityOfEveryPage(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "refused by the test", http.StatusBadRequest)
	}))
	defer hook.Close()
	s := startServer(t, "--webhook", hook.URL)
	tk := s.file(t, map[string]any{"title": strings.Repeat("Long title for the accessibility check ", 5), "severity": "critical"})
	other := s.create(t, "Second ticket", "low")
	s.setStatus(t, other.ID, "acknowledged")
	s.waitFinal(t, tk.ID)
	tb := newTabFor(t, 3*time.Minute)
	for _, width := range []int64{1280, 360} {
		if width == 360 {
			tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
		}
		at := fmt.Sprintf(" at %d px", width)
		tb.open(s.URL + "/")
		tb.do(chromedp.WaitVisible(chromedp.CSS("#f-title")))
		tb.axeBoth("the form" + at)
		tb.clearField("#f-name")
		tb.click("#submit-ticket")
		tb.wait("the error summary", `document.querySelector('.error-summary:not([hidden])')`, 5*time.Second)
		tb.axeBoth("the form with errors" + at)
		tb.fill(goodReport)
		tb.click("#submit-ticket")
		tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
		tb.axeBoth("the result" + at)
		tb.open(s.URL + "/#/ticket/" + tk.ID)
		tb.wait("the status page", `document.querySelector('#notify-panel[data-notification-status="PARTIAL"]')`, 10*time.Second)
		tb.axeBoth("the status page" + at)
		tb.open(s.URL + "/#/mine")
		tb.wait("my tickets", `document.querySelector('#mine-table [data-notification]')`, 10*time.Second)
		tb.axeBoth("my tickets" + at)
		tb.open(s.URL + "/#/ticket/01890000-0000-7000-8000-000000000000")
		tb.wait("the unknown ticket", `document.querySelector('#not-found')`, 5*time.Second)
		tb.axeBoth("an unknown ticket" + at)
		tb.open(s.URL + "/#/nowhere")
		tb.wait("the 404 page", `document.title.startsWith('Page not found')`, 5*time.Second)
		tb.axeBoth("page not found" + at)

		eval[bool](tb, `(sessionStorage.clear(), true)`)
		tb.open(s.URL + "/#/admin")
		tb.wait("sign-in", `document.querySelector('#admin-token')`, 5*time.Second)
		tb.axeBoth("the sign-in" + at)
		tb.signIn(s)
		tb.settled()
		tb.wait("the counts", `document.querySelector('[data-card]')`, 5*time.Second)
		eval[bool](tb, `(document.querySelector('#counts-box').open = true, document.querySelector('#filters-box').open = true, true)`)
		tb.click(".row-select")
		tb.wait("the bulk bar", `!document.querySelector('#bulk-bar').hidden`, 2*time.Second)
		tb.axeBoth("the queue with a selection" + at)
		tb.click(`#bulk-bar [data-action="acknowledge"]`)
		tb.wait("the bulk summary", `document.querySelector('#bulk-summary')`, 5*time.Second)
		s.create(t, "Arrives while looking", "high")
		tb.wait("the banner", `!document.querySelector('#new-banner').hidden`, 5*time.Second)
		tb.axeBoth("the queue with a result and new tickets" + at)
		tb.choose("#filter-severity", "high")
		tb.settled()
		tb.click("#save-view")
		tb.wait("the view form", `document.querySelector('#view-name')`, 2*time.Second)
		tb.axeBoth("the queue saving a view" + at)
		tb.open(s.URL + "/#/admin?q=nothing-matches-this")
		tb.wait("no results", `document.querySelector('#ticket-empty')`, 5*time.Second)
		tb.axeBoth("the queue without results" + at)
		tb.press("?")
		tb.wait("the shortcuts", `document.querySelector('#shortcuts-dialog[open]')`, 2*time.Second)
		tb.axeBoth("the shortcuts dialog" + at)
		tb.press(kb.Escape)
		tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
		tb.wait("the diagram", `document.querySelector('#execution g.state[data-state="Publish"]') && document.querySelector('#outbox .outbox-body')`, 10*time.Second)
		tb.click(`#execution g.state[data-state="Publish"]`)
		tb.wait("the state panel", `document.querySelector('.state-input')`, 5*time.Second)
		eval[bool](tb, `(document.querySelectorAll('.tl-steps').forEach(d => d.open = true), true)`)
		tb.axeBoth("the admin detail" + at)
	}
}

// TestDarkMode: the app follows the system's colour scheme, the header's toggle overrides it
// (remembered on the device), and choosing what the system says follows the system again.
func TestDarkMode(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "Seen at night", "critical")
	s.create(t, "Also at night", "low")
	s.waitNotified(t, tk.ID)
	tb := newTab(t)
	bg := func() string { return eval[string](tb, `getComputedStyle(document.body).backgroundColor`) }
	tb.colorScheme("dark")
	tb.open(s.URL + "/")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#f-title")))
	if got := bg(); got != "rgb(15, 20, 27)" {
		t.Errorf("with the system in dark mode the page background is %s, want the dark one", got)
	}
	if got := eval[string](tb, `document.querySelector('#theme-toggle').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("the toggle says pressed=%s in dark mode", got)
	}
	tb.screenshot("dark-form")
	tb.signIn(s)
	tb.settled()
	tb.wait("the counts", `document.querySelector('[data-card]')`, 5*time.Second)
	tb.screenshot("dark-admin-table")
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the diagram", `document.querySelector('#execution g.state[data-state="Publish"]') && document.querySelector('#outbox .outbox-body')`, 10*time.Second)
	tb.click(`#execution g.state[data-state="Publish"]`)
	tb.screenshot("dark-admin-detail")

	tb.click("#theme-toggle")
	if got := bg(); got != "rgb(245, 247, 250)" {
		t.Errorf("after the toggle the background is %s, want the light one", got)
	}
	tb.do(chromedp.Reload())
	tb.wait("the page", `document.querySelector('#ticket-title')`, 10*time.Second)
	if got := bg(); got != "rgb(245, 247, 250)" {
		t.Errorf("the light choice did not survive a reload: background %s", got)
	}
	tb.click("#theme-toggle")
	if got := eval[string](tb, `localStorage.getItem('incidents.theme') || ''`); got != "" {
		t.Errorf("choosing what the system says keeps a choice %q; want to follow the system again", got)
	}
	tb.colorScheme("light")
	if got := bg(); got != "rgb(245, 247, 250)" {
		t.Errorf("following the system (now light): background %s", got)
	}

	tb.colorScheme("dark")
	tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	tb.open(s.URL + "/#/admin")
	tb.settled()
	tb.screenshot("dark-mobile-admin-table")
}
