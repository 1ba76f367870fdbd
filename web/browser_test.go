package web_test

// Browser tests: the real `incidents serve` (built once in TestMain, started per test on
// 127.0.0.1:0 with its own data directory) driven by headless Debian chromium through chromedp.
// They fail, never skip, when chromium or the server cannot be started.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/incidentmanager/incidents/internal/servetest"
	"github.com/incidentmanager/incidents/statemachine"
)

var (
	serverBin string
	// setupErr is why the suite cannot run; every test reports it as a failure.
	setupErr error
	// browser is the one chromium every test opens its tabs in.
	browser context.Context
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "incidents-web-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)

	serverBin, setupErr = servetest.Build(tmp)
	var cancel context.CancelFunc = func() {}
	if setupErr == nil {
		browser, cancel, setupErr = startBrowser(tmp)
	}
	code := m.Run()
	cancel()
	return code
}

func chromiumPath() (string, error) {
	candidates := []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("chromium is not installed: the browser tests need Debian's chromium " +
		"(apt-get install -y chromium, which `make test` does), or set CHROMIUM to its path")
}

func startBrowser(dir string) (context.Context, context.CancelFunc, error) {
	chrome, err := chromiumPath()
	if err != nil {
		return nil, nil, err
	}
	profile := filepath.Join(dir, "chromium-profile")
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	cancel := func() { cancelCtx(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("starting %s: %w", chrome, err)
	}
	return ctx, cancel, nil
}

// server is one running `incidents serve`, with its own data directory.
type server struct{ *servetest.Server }

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("browser test setup failed: %v", setupErr)
	}
	return &server{servetest.Start(t, serverBin, t.TempDir(), args...)}
}

// --- API helpers (the tests check the browser's effects through the real API) ---

type ticket struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Severity    string `json:"severity"`
	Status      string `json:"status"`
	CreatedAt   string `json:"createdAt"`
	Reporter    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"reporter"`
	Notification struct {
		Status string `json:"status"`
	} `json:"notification"`
}

func (s *server) do(t *testing.T, method, path string, body any, hdr map[string]string, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode
}

func (s *server) create(t *testing.T, title, severity string) ticket {
	t.Helper()
	var tk ticket
	body := map[string]any{"title": title, "description": "Filed by the browser test.", "severity": severity,
		"category": "Network", "reporter": map[string]string{"name": "Test Reporter", "email": "reporter@example.com"}}
	key := fmt.Sprintf("test-%s-%d", strings.ReplaceAll(title, " ", "-"), time.Now().UnixNano())
	if code := s.do(t, "POST", "/ticket", body, map[string]string{"Idempotency-Key": key}, &tk); code != http.StatusCreated {
		t.Fatalf("POST /ticket %q: status %d, want 201", title, code)
	}
	return tk
}

// tickets lists every ticket through the admin API, newest first.
func (s *server) tickets(t *testing.T) []ticket {
	t.Helper()
	var all []ticket
	cursor := ""
	for range 100 {
		var page struct {
			Items      []ticket `json:"items"`
			NextCursor *string  `json:"nextCursor"`
		}
		path := "/ticket?limit=100"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		if code := s.do(t, "GET", path, nil, map[string]string{"Authorization": "Bearer " + s.Token}, &page); code != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200", path, code)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all
		}
		cursor = *page.NextCursor
	}
	t.Fatal("more than 100 pages of tickets")
	return nil
}

// waitNotified waits until every ticket's notification is SENT or FAILED.
func (s *server) waitNotified(t *testing.T, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range ids {
		for {
			var tk ticket
			s.do(t, "GET", "/ticket/"+id, nil, nil, &tk)
			if tk.Notification.Status == "SENT" || tk.Notification.Status == "FAILED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticket %s still %q after 20s", id, tk.Notification.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// --- Browser helpers ---

// tab is one browser tab; it records script exceptions, CSP violations and dialogs, and the
// test fails if any happened.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	dialogs  []string
	problems []string
}

func newTab(t *testing.T) *tab {
	t.Helper()
	return newTabFor(t, 45*time.Second)
}

// newTabFor is newTab for a test that needs the tab longer than 45 s.
func newTabFor(t *testing.T, timeout time.Duration) *tab {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("browser test setup failed: %v", setupErr)
	}
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %s", ev.Type, ev.Message))
			tb.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Failed HTTP statuses (404, 400) are expected answers the app handles; script
			// exceptions and Content-Security-Policy violations are bugs.
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
				tb.mu.Lock()
				tb.problems = append(tb.problems, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser console: %s", p)
		}
		for _, d := range tb.dialogs {
			t.Errorf("a JavaScript dialog opened (%s): page script ran", d)
		}
	})
	return tb
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval runs JavaScript and decodes its result into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// wait polls a JavaScript predicate until it is truthy.
func (tb *tab) wait(what, js string, timeout time.Duration) {
	tb.t.Helper()
	// An element not drawn yet is "not yet", not a failure of the test.
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[bool]("(() => { try { return !!("+js+"); } catch (e) { return false; } })()",
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v", what, js, err)
	}
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func (tb *tab) activeID() string {
	tb.t.Helper()
	return eval[string](tb, `document.activeElement ? document.activeElement.id : ""`)
}

func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// choose selects an option the way a user's change does (value set, change event fired).
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value))
}

// clearField empties an input the way selecting all and deleting would.
func (tb *tab) clearField(sel string) {
	tb.t.Helper()
	eval[bool](tb, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel))
}

// noStrayText fails when the page shows "null", "undefined" or "NaN" as text, the marks of a
// missing field rendered blindly.
func (tb *tab) noStrayText(where string) {
	tb.t.Helper()
	bad := eval[[]string](tb, `document.querySelector('main').innerText.split(/\s+/).filter(w => /^(null|undefined|NaN|\[object)/.test(w))`)
	if len(bad) > 0 {
		tb.t.Errorf("%s shows %q", where, bad)
	}
}

func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(url))
}

// screenshot saves a full-page PNG under testdata/screenshots for the docs.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	tb.save(name, chromedp.FullScreenshot(100))
}

// screenshotOf saves a PNG of one element.
func (tb *tab) screenshotOf(name, sel string) {
	tb.t.Helper()
	tb.save(name, chromedp.Screenshot(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (tb *tab) save(name string, shot chromedp.Action[[]byte]) {
	tb.t.Helper()
	// Let transitions and fonts settle so the picture shows the final state.
	time.Sleep(150 * time.Millisecond)
	buf, err := chromedp.Run(tb.ctx, shot)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

type report struct{ title, description, severity, category, name, email string }

// fill types a report into the form like a user (keystrokes, not value assignment).
func (tb *tab) fill(r report) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.CSS("#f-title")))
	for _, f := range []struct{ id, v string }{
		{"#f-title", r.title}, {"#f-description", r.description}, {"#f-category", r.category},
		{"#f-name", r.name}, {"#f-email", r.email},
	} {
		tb.clearField(f.id)
		if f.v != "" {
			tb.do(chromedp.SendKeys(chromedp.CSS(f.id), f.v))
		}
	}
	if r.severity != "" {
		tb.choose("#f-severity", r.severity)
	}
}

func (tb *tab) signIn(s *server) {
	tb.t.Helper()
	tb.open(s.URL + "/#/admin")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#admin-token")),
		chromedp.SendKeys(chromedp.CSS("#admin-token"), s.Token+"\n"))
	tb.wait("the ticket table", `document.querySelector('#ticket-table, #ticket-empty')`, 10*time.Second)
}

var goodReport = report{
	title:       "VPN drops every ten minutes",
	description: "Since this morning the VPN disconnects every ten minutes.\nReconnecting works for a while.",
	severity:    "high",
	category:    "Network",
	name:        "Ada Lovelace",
	email:       "ada@example.com",
}

// --- Tests ---

func TestFileTicketThroughFormAndSeeItSent(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.fill(goodReport)
	tb.screenshot("form")
	tb.click("#submit-ticket")

	tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
	id := strings.TrimSpace(tb.text("#result-id"))
	if got := tb.activeID(); got != "result-title" {
		t.Errorf("focus after filing is on %q, want the result heading", got)
	}
	all := s.tickets(t)
	if len(all) != 1 || all[0].ID != id {
		t.Fatalf("the server has %d tickets (%+v); want exactly the one the page shows, %s", len(all), all, id)
	}
	if all[0].Title != goodReport.title || all[0].Severity != "high" || all[0].Reporter.Email != goodReport.email {
		t.Errorf("stored ticket = %+v, want what was typed into the form", all[0])
	}

	tb.click("#result-status-link")
	tb.wait("the status page", `location.hash === '#/ticket/`+id+`'`, 5*time.Second)
	tb.wait("notification SENT", `document.querySelector('#notify-panel[data-notification-status="SENT"]')`, 20*time.Second)
	if got := tb.text("#ticket-title"); got != goodReport.title {
		t.Errorf("status page title = %q, want %q", got, goodReport.title)
	}
	for _, typ := range []string{"created", "notification.sent"} {
		if tb.count(`.timeline li[data-type="`+typ+`"]`) == 0 {
			t.Errorf("the timeline has no %q entry: %q", typ, tb.text(".timeline"))
		}
	}
	tb.noStrayText("the status page")
	tb.screenshot("status")

	tb.open(s.URL + "/#/mine")
	tb.wait("My tickets to show the ticket as sent", `document.querySelector('#mine-table tr[data-id="`+id+`"] [data-notification="SENT"]')`, 10*time.Second)
}

func TestServerValidationErrorsAppearNextToTheirFields(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")

	// Client-side checks first: nothing reaches the server.
	tb.fill(report{severity: "low", name: "Ada", email: "ada@example.com"})
	tb.click("#submit-ticket")
	tb.wait("the client error summary", `document.querySelector('.error-summary[data-origin="client"]:not([hidden])')`, 5*time.Second)
	if got := tb.text("#f-title-error"); got != "Title is required." {
		t.Errorf("title error = %q, want %q", got, "Title is required.")
	}
	if n := len(s.tickets(t)); n != 0 {
		t.Fatalf("an invalid form filed %d tickets", n)
	}

	// "ops@localhost" is an address the browser's own rule accepts, but the server requires a
	// domain with a dot: the error must come from the server and land on the email field.
	tb.fill(report{title: "Printer on fire", severity: "low", name: "Ada", email: "ops@localhost"})
	tb.click("#submit-ticket")
	tb.wait("the server error summary", `document.querySelector('.error-summary[data-origin="server"]:not([hidden])')`, 10*time.Second)
	emailErr := tb.text(`.field[data-field="reporter.email"] #f-email-error`)
	if !strings.Contains(emailErr, "valid address") {
		t.Errorf("the email field shows %q, want the server's message about a valid address", emailErr)
	}
	if got := eval[string](tb, `document.querySelector('#f-email').getAttribute('aria-invalid')`); got != "true" {
		t.Errorf("email aria-invalid = %q, want true", got)
	}
	if got := eval[bool](tb, `document.querySelector('#f-email').getAttribute('aria-describedby').split(' ').includes('f-email-error')`); !got {
		t.Error("the email input is not described by its error message")
	}
	for _, other := range []string{"title", "name", "description", "category"} {
		if eval[bool](tb, `!document.querySelector('#f-`+other+`-error').hidden`) {
			t.Errorf("the %s field shows an error although only the email is wrong", other)
		}
	}
	if !eval[bool](tb, `document.activeElement.classList.contains('error-summary')`) {
		t.Errorf("focus is on %q, want the error summary", tb.activeID())
	}
	if n := len(s.tickets(t)); n != 0 {
		t.Fatalf("a rejected form filed %d tickets", n)
	}
	tb.screenshot("form-server-errors")

	// Fixing the field files the ticket (a changed body gets a fresh Idempotency-Key).
	tb.clearField("#f-email")
	tb.do(chromedp.SendKeys(chromedp.CSS("#f-email"), "ops@example.com"))
	tb.click("#submit-ticket")
	tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
	if n := len(s.tickets(t)); n != 1 {
		t.Fatalf("after fixing the email the server has %d tickets, want 1", n)
	}
}

func TestUserTextIsShownLiterallyAndNeverRuns(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	const title = `<img src=x onerror=alert(1)>`
	const description = `<script>alert(2)</script>`
	tb.open(s.URL + "/")
	tb.fill(report{title: title, description: description, severity: "critical",
		category: `<svg onload=alert(3)>`, name: `<b onmouseover=alert(4)>Mallory</b>`, email: "mallory@example.com"})
	tb.click("#submit-ticket")
	tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
	if got := tb.text(".result-ticket-title"); got != title {
		t.Errorf("result shows %q, want the literal %q", got, title)
	}
	injected := `document.querySelectorAll('img[src="x"], main script, main svg[onload], main b, [onerror], [onload], [onmouseover]').length`

	tb.click("#result-status-link")
	tb.wait("notification done", `document.querySelector('#notify-panel[data-notification-status="SENT"]')`, 20*time.Second)
	if got := tb.text("#ticket-title"); got != title {
		t.Errorf("reporter status page title = %q, want %q", got, title)
	}
	if got := tb.text("#ticket-description"); got != description {
		t.Errorf("reporter status page description = %q, want %q", got, description)
	}
	if n := eval[int](tb, injected); n != 0 {
		t.Errorf("the reporter page contains %d elements made from user text", n)
	}

	tb.signIn(s)
	tb.wait("the ticket row", `document.querySelector('#ticket-table .ticket-link')`, 10*time.Second)
	if got := tb.text("#ticket-table .ticket-link"); got != title {
		t.Errorf("admin table title = %q, want %q", got, title)
	}
	if n := eval[int](tb, injected); n != 0 {
		t.Errorf("the admin table contains %d elements made from user text", n)
	}
	tb.click("#ticket-table .ticket-link")
	tb.wait("the admin detail", `document.querySelector('#ticket-description') && document.querySelector('#execution svg')`, 15*time.Second)
	if got := tb.text("#ticket-title"); got != title {
		t.Errorf("admin detail title = %q, want %q", got, title)
	}
	if got := tb.text("#ticket-description"); got != description {
		t.Errorf("admin detail description = %q, want %q", got, description)
	}
	tb.click(`#execution g.state[data-state="Publish"]`)
	tb.wait("the state input", `document.querySelector('.state-input')`, 5*time.Second)
	if n := eval[int](tb, injected); n != 0 {
		t.Errorf("the admin detail contains %d elements made from user text", n)
	}
	// Give any injected handler a moment to fire before the dialog check in cleanup.
	time.Sleep(300 * time.Millisecond)
}

func TestDoubleClickOnSubmitFilesOneTicket(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.fill(goodReport)
	// A real double click: two press/release pairs at the button's centre, the second with
	// clickCount 2, sent back to back.
	tb.do(chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('#submit-ticket').getBoundingClientRect(); return [r.x + r.width/2, r.y + r.height/2]; })()`))
		if err != nil {
			return err
		}
		for _, n := range []int64{1, 2} {
			for _, typ := range []input.DispatchMouseEventType{input.DispatchMouseEventTypeMousePressed, input.DispatchMouseEventTypeMouseReleased} {
				if _, err := cdp.Call(ctx, target, input.DispatchMouseEvent, input.DispatchMouseEventParams{
					Type: typ, X: box[0], Y: box[1], Button: input.MouseButtonLeft, ClickCount: n,
				}); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
	// And a burst of programmatic submits, as from an impatient Enter key.
	time.Sleep(500 * time.Millisecond)
	all := s.tickets(t)
	if len(all) != 1 {
		t.Fatalf("a double click filed %d tickets, want 1", len(all))
	}
	if got := strings.TrimSpace(tb.text("#result-id")); got != all[0].ID {
		t.Errorf("the page shows ticket %s, the server has %s", got, all[0].ID)
	}
}

func TestRetryAfterLostResponseReusesIdempotencyKey(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.fill(goodReport)

	// The first POST reaches the server, but its response is cut off on the way back, as on a
	// flaky network. The user then presses "Try again".
	var mu sync.Mutex
	var keys []string
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			mu.Lock()
			keys = append(keys, ev.Request.Headers["Idempotency-Key"].(string))
			first := len(keys) == 1
			mu.Unlock()
			if first {
				_, _ = chromedp.Call(tb.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			} else {
				_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.URL + "/ticket", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatal(err)
	}
	tb.click("#submit-ticket")
	tb.wait("the network error", `document.querySelector('.form-alert .alert-error button')`, 10*time.Second)
	msg := tb.text(".form-alert .alert-error p")
	if !strings.Contains(msg, "could not reach the server") {
		t.Errorf("error message = %q, want a sentence about reaching the server", msg)
	}
	if n := len(s.tickets(t)); n != 1 {
		t.Fatalf("the server has %d tickets after the lost response, want 1", n)
	}
	tb.click(".form-alert .alert-error button")
	tb.wait("the result", `document.querySelector('#result-id')`, 10*time.Second)
	all := s.tickets(t)
	if len(all) != 1 {
		t.Fatalf("retrying filed another ticket: the server has %d, want 1", len(all))
	}
	if got := strings.TrimSpace(tb.text("#result-id")); got != all[0].ID {
		t.Errorf("the page shows %s, the server's only ticket is %s", got, all[0].ID)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Errorf("Idempotency-Keys sent = %q, want the same key twice", keys)
	}
}

func TestAdminSignInFilterPageAndWorkflowPath(t *testing.T) {
	s := startServer(t)
	var ids []string
	for i := 1; i <= 12; i++ {
		sev := "high"
		if i%3 == 0 {
			sev = "low"
		}
		ids = append(ids, s.create(t, fmt.Sprintf("Ticket %d", i), sev).ID)
		time.Sleep(5 * time.Millisecond) // distinct creation times keep "newest first" unambiguous
	}
	s.waitNotified(t, ids...)

	tb := newTab(t)
	tb.open(s.URL + "/#/admin")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#admin-token")), chromedp.SendKeys(chromedp.CSS("#admin-token"), "not-the-token\n"))
	tb.wait("the rejected-token message", `!document.querySelector('#admin-token-error').hidden`, 10*time.Second)
	tb.clearField("#admin-token")
	tb.do(chromedp.SendKeys(chromedp.CSS("#admin-token"), s.Token+"\n"))
	tb.wait("the ticket table", `document.querySelectorAll('#ticket-table tbody tr').length === 12`, 10*time.Second)
	if loc := eval[string](tb, `location.href`); strings.Contains(loc, s.Token) {
		t.Errorf("the admin token is in the URL %q", loc)
	}
	if got := eval[string](tb, `sessionStorage.getItem('incidents.adminToken')`); got != s.Token {
		t.Errorf("sessionStorage token = %q, want the token", got)
	}
	if n := eval[int](tb, `Object.keys(localStorage).filter(k => (localStorage.getItem(k)||'').includes(`+jsString(s.Token)+`)).length`); n != 0 {
		t.Error("the admin token leaked into localStorage")
	}
	tb.wait("the stats", `document.querySelector('.stat-total .stat-n') && document.querySelector('.stat-total .stat-n').textContent === '12'`, 5*time.Second)
	tb.noStrayText("the admin table")
	tb.screenshot("admin-table")

	titles := func() []string {
		return eval[[]string](tb, `[...document.querySelectorAll('#ticket-table .ticket-link')].map(a => a.textContent)`)
	}
	if got, want := titles(), []string{"Ticket 12", "Ticket 11", "Ticket 10", "Ticket 9", "Ticket 8", "Ticket 7", "Ticket 6", "Ticket 5", "Ticket 4", "Ticket 3", "Ticket 2", "Ticket 1"}; !equal(got, want) {
		t.Errorf("table order = %q, want newest first %q", got, want)
	}

	tb.choose("#page-size", "10")
	tb.wait("page 1 of 10", `document.querySelectorAll('#ticket-table tbody tr').length === 10 && document.querySelector('#page-no').textContent === 'Page 1'`, 10*time.Second)
	page1 := titles()
	tb.click("#page-next")
	tb.wait("page 2", `document.querySelector('#page-no').textContent === 'Page 2' && !document.querySelector('#ticket-table[aria-busy]')`, 10*time.Second)
	tb.wait("page 2 rows", `document.querySelectorAll('#ticket-table tbody tr').length === 2`, 10*time.Second)
	if got, want := titles(), []string{"Ticket 2", "Ticket 1"}; !equal(got, want) {
		t.Errorf("page 2 = %q, want %q", got, want)
	}
	if !eval[bool](tb, `document.querySelector('#page-next').disabled`) {
		t.Error("Next is enabled on the last page")
	}
	tb.click("#page-prev")
	tb.wait("back on page 1", `document.querySelector('#page-no').textContent === 'Page 1' && document.querySelectorAll('#ticket-table tbody tr').length === 10`, 10*time.Second)
	if got := titles(); !equal(got, page1) {
		t.Errorf("back on page 1 = %q, want %q", got, page1)
	}

	tb.choose("#filter-severity", "low")
	tb.wait("the low filter", `document.querySelectorAll('#ticket-table tbody tr').length === 4`, 10*time.Second)
	if got, want := titles(), []string{"Ticket 12", "Ticket 9", "Ticket 6", "Ticket 3"}; !equal(got, want) {
		t.Errorf("severity=low shows %q, want %q", got, want)
	}
	if n := tb.count(`#ticket-table [data-severity]:not([data-severity="low"])`); n != 0 {
		t.Errorf("%d rows of another severity under the low filter", n)
	}
	tb.choose("#filter-status", "resolved")
	tb.wait("the empty result", `document.querySelector('#ticket-empty')`, 10*time.Second)
	tb.choose("#filter-status", "")

	tb.wait("low tickets again", `document.querySelectorAll('#ticket-table tbody tr').length === 4`, 10*time.Second)
	tb.click("#ticket-table .ticket-link")
	tb.wait("the workflow diagram", `document.querySelector('#execution g.state[data-state="Publish"]')`, 15*time.Second)
	for state, want := range map[string]string{"Publish": "visited", "Delivered": "visited", "Notified": "visited", "RecordFailure": "none", "NotificationFailed": "none"} {
		got := eval[string](tb, `document.querySelector('#execution g.state[data-state="`+state+`"]').dataset.status`)
		if got != want {
			t.Errorf("state %s is drawn %q, want %q", state, got, want)
		}
	}
	if got, want := tb.count("#execution path.edge.is-taken"), 4; got != want {
		t.Errorf("%d edges highlighted, want %d (Start→Publish→Delivered→Notified→End)", got, want)
	}
	if got := tb.text("#wf-path"); !strings.Contains(got, "Start → Publish → Delivered → Notified → End") {
		t.Errorf("path text = %q", got)
	}
	tb.click(`#execution g.state[data-state="Publish"]`)
	tb.wait("the state's input", `document.querySelector('.state-input')`, 5*time.Second)
	// The workflow carries the ticket's ID, never what the reporter wrote.
	ticketID := eval[string](tb, `document.querySelector('.ticket-id').textContent`)
	if in := tb.text(".state-input"); !strings.Contains(in, ticketID) || strings.Contains(in, "Ticket 12") {
		t.Errorf("Publish input = %q, want the ticket ID %s and not its title", in, ticketID)
	}
	if !eval[bool](tb, `document.body.innerText.includes('written to the local outbox (the embedded server sends no email)')`) {
		t.Error("the detail does not say what delivered means for the outbox channel")
	}
	tb.noStrayText("the admin detail")
	tb.screenshot("admin-detail")
	tb.screenshotOf("workflow-sent", "#execution .workflow")

	tb.click(`.lifecycle button[data-to="acknowledged"]`)
	tb.wait("acknowledged", `document.querySelector('#ticket-status [data-status="acknowledged"]')`, 10*time.Second)
	tb.click(`.lifecycle button[data-to="resolved"]`)
	tb.wait("resolved", `document.querySelector('#ticket-status [data-status="resolved"]') && document.querySelector('.lifecycle button[data-to="open"]')`, 10*time.Second)
	if n := tb.count(`.timeline li[data-type="status.changed"]`); n != 2 {
		t.Errorf("timeline has %d status changes, want 2", n)
	}

	tb.click("#sign-out")
	tb.wait("the sign-in form", `document.querySelector('#admin-token')`, 5*time.Second)
	if got := eval[string](tb, `sessionStorage.getItem('incidents.adminToken') || ''`); got != "" {
		t.Error("the token is still in sessionStorage after signing out")
	}
}

// TestPartialNotificationShowsItsPath: the outbox took the notification, the webhook refused
// it; the reporter reads "partly", the admin sees each channel and the path to the Fail state.
func TestPartialNotificationShowsItsPath(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "rejected by the test", http.StatusBadRequest)
	}))
	defer hook.Close()
	s := startServer(t, "--webhook", hook.URL)
	tk := s.create(t, "Webhook refuses", "critical")

	tb := newTab(t)
	tb.open(s.URL + "/#/ticket/" + tk.ID)
	tb.wait("notification PARTIAL", `document.querySelector('#notify-panel[data-notification-status="PARTIAL"]')`, 30*time.Second)
	if got := tb.text("#notify-panel"); !strings.Contains(got, "not on every channel") || strings.Contains(got, "rejected") {
		t.Errorf("the reporter reads %q, want a plain partial status without the error", got)
	}

	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the workflow diagram", `document.querySelector('#execution g.state[data-state="PartlyNotified"][data-status="failed"]')`, 15*time.Second)
	for state, want := range map[string]string{"Publish": "visited", "Delivered": "visited", "PartlyNotified": "failed", "RecordFailure": "none", "Notified": "none"} {
		got := eval[string](tb, `document.querySelector('#execution g.state[data-state="`+state+`"]').dataset.status`)
		if got != want {
			t.Errorf("state %s is drawn %q, want %q", state, got, want)
		}
	}
	if got := tb.text("#delivery"); !strings.Contains(got, "Local outbox") || !strings.Contains(got, "400 Bad Request") {
		t.Errorf("the channels read %q, want the outbox and the webhook's 400", got)
	}
	if n := tb.count(`#delivery [data-channel-status="SENT"]`) + 10*tb.count(`#delivery [data-channel-status="FAILED"]`); n != 11 {
		t.Errorf("channel states drawn %d (sent + 10×failed), want one of each", n)
	}
	tb.screenshot("admin-detail-failed")
	tb.screenshotOf("workflow-failed", "#execution .workflow")
}

func TestKeyboardOnlyFiling(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	tb.open(s.URL + "/")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#f-title")))

	tabTo := func(id string) {
		t.Helper()
		for range 20 {
			if tb.activeID() == id {
				return
			}
			tb.do(chromedp.KeyEvent(kb.Tab))
		}
		t.Fatalf("Tab never reached #%s (focus is on %q)", id, tb.activeID())
	}
	typeText := func(s string) { tb.do(chromedp.KeyEvent(s)) }

	tabTo("f-title")
	typeText("Keyboard only")
	tabTo("f-description")
	typeText("Filed without touching the mouse.")
	tabTo("f-severity")
	tb.do(chromedp.KeyEvent(kb.ArrowDown)) // medium → low
	tabTo("f-category")
	typeText("Access")
	tabTo("f-name")
	typeText("Kay Board")
	tabTo("f-email")
	typeText("kay@example.com")
	tb.do(chromedp.KeyEvent(kb.Enter))

	tb.wait("the result", `document.activeElement && document.activeElement.id === 'result-title'`, 10*time.Second)
	tabTo("result-status-link")
	tb.do(chromedp.KeyEvent(kb.Enter))
	tb.wait("the status page with focus on its heading", `location.hash.startsWith('#/ticket/') && document.activeElement && document.activeElement.id === 'ticket-title'`, 10*time.Second)

	all := s.tickets(t)
	if len(all) != 1 {
		t.Fatalf("keyboard filing made %d tickets, want 1", len(all))
	}
	if all[0].Title != "Keyboard only" || all[0].Severity != "low" || all[0].Reporter.Email != "kay@example.com" {
		t.Errorf("stored ticket = %+v", all[0])
	}
}

func TestSmallScreenHasNoSidewaysScrolling(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "A rather long ticket title that has to wrap on a small phone screen", "medium")
	s.waitNotified(t, tk.ID)
	tb := newTab(t)
	tb.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	noOverflow := func(what string) {
		t.Helper()
		if w := eval[int](tb, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s is %dpx wide at a 360px viewport", what, w)
		}
	}
	tb.open(s.URL + "/")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#f-title")))
	noOverflow("the form")
	tb.screenshot("mobile-form")

	tb.open(s.URL + "/#/ticket/" + tk.ID)
	tb.wait("the status page", `document.querySelector('#notify-panel')`, 10*time.Second)
	noOverflow("the status page")

	tb.signIn(s)
	tb.wait("the table", `document.querySelector('#ticket-table')`, 5*time.Second)
	noOverflow("the admin table")
	tb.screenshot("mobile-admin-table")
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the diagram", `document.querySelector('#execution svg')`, 10*time.Second)
	noOverflow("the admin detail")
}

func TestAWSModeLinksToTheStepFunctionsConsole(t *testing.T) {
	s := startServer(t)
	tk := s.create(t, "Filed on AWS", "high")
	s.waitNotified(t, tk.ID)
	var stored struct {
		Notification struct {
			Execution string `json:"execution"`
		} `json:"notification"`
	}
	s.do(t, "GET", "/ticket/"+tk.ID, nil, map[string]string{"Authorization": "Bearer " + s.Token}, &stored)
	arn := stored.Notification.Execution
	if arn == "" {
		t.Fatal("the ticket names no execution")
	}

	// Serve the config.js a CloudFront deployment gets, so the app runs in AWS mode (the API
	// stays on this origin so the test needs no AWS).
	tb := newTab(t)
	awsConfig := []byte(`window.INCIDENTS_CONFIG = {"apiBase": "", "mode": "aws", "region": "eu-west-1", "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:notify"};`)
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: 200, Body: awsConfig,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript"}},
			})
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: s.URL + "/config.js", RequestStage: fetch.RequestStageRequest},
	}}); err != nil {
		t.Fatal(err)
	}
	tb.signIn(s)
	tb.open(s.URL + "/#/admin/ticket/" + tk.ID)
	tb.wait("the console link", `document.querySelector('#console-link')`, 10*time.Second)
	href := eval[string](tb, `document.querySelector('#console-link').href`)
	want := "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/" + arn
	if href != want {
		t.Errorf("console link = %q, want %q", href, want)
	}
	var def struct{ States map[string]any }
	json.Unmarshal(statemachine.Definition, &def)
	if got := tb.count("#execution svg g.state"); got != len(def.States) || got == 0 {
		t.Errorf("the AWS view draws %d states, want the %d of the definition", got, len(def.States))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestAuthorizerForbiddenAsksToSignInAgain: on AWS, API Gateway's Lambda authorizer answers a
// wrong or rotated admin token with 403 {"message":"Forbidden"}, where the embedded server
// answers 401. The app treats both as "sign in again", at sign-in and mid-session.
func TestAuthorizerForbiddenAsksToSignInAgain(t *testing.T) {
	s := startServer(t)
	tb := newTab(t)
	forbidden := func(patterns ...string) {
		t.Helper()
		var ps []*fetch.RequestPattern
		for _, p := range patterns {
			ps = append(ps, &fetch.RequestPattern{URLPattern: s.URL + p, RequestStage: fetch.RequestStageRequest})
		}
		if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: ps}); err != nil {
			t.Fatal(err)
		}
	}
	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(tb.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{
				RequestID: ev.RequestID, ResponseCode: 403, Body: []byte(`{"message":"Forbidden"}`),
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}},
			})
		}
	}()

	forbidden("/admin/stats")
	tb.open(s.URL + "/#/admin")
	tb.do(chromedp.WaitVisible(chromedp.CSS("#admin-token")),
		chromedp.SendKeys(chromedp.CSS("#admin-token"), "a-rotated-token\n"))
	tb.wait("the field error", `!document.querySelector('#admin-token-error').hidden`, 10*time.Second)
	if got := tb.text("#admin-token-error"); !strings.Contains(got, "not accepted") {
		t.Errorf("sign-in with a token the authorizer refuses says %q, want that it was not accepted", got)
	}

	if _, err := chromedp.Call(tb.ctx, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	tb.clearField("#admin-token")
	tb.do(chromedp.SendKeys(chromedp.CSS("#admin-token"), s.Token+"\n"))
	tb.wait("the ticket table", `document.querySelector('#ticket-table, #ticket-empty')`, 10*time.Second)
	forbidden("/ticket?*", "/admin/stats")
	tb.do(chromedp.Reload()) // the token stays in sessionStorage; the authorizer now refuses it
	tb.wait("the sign-in form again", `document.querySelector('#admin-token')`, 10*time.Second)
	if got := tb.text("#signin-form"); !strings.Contains(got, "sign in again") {
		t.Errorf("after a 403 mid-session the page says %q, want a request to sign in again", got)
	}
}
