package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// The promises of delivery, tried as users and operators meet them: a client that hangs up,
// a restart in the middle of deliveries, two servers on one data directory, receivers that
// redirect or ask to be called later, a disk that goes read-only.

const ticketBody = `{"title":"%s","description":"It broke.","severity":"high","category":"network","reporter":{"name":"Ada","email":"ada@example.com"}}`

// sink is a webhook receiver that records every request it was sent.
type sink struct {
	mu       sync.Mutex
	requests []sinkRequest
	// respond decides each answer (nil: 200 at once).
	respond func(n int, w http.ResponseWriter)
}

type sinkRequest struct {
	at         time.Time
	ticketID   string
	deliveryID string
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		TicketID string `json:"ticketId"`
	}
	json.NewDecoder(r.Body).Decode(&p)
	s.mu.Lock()
	s.requests = append(s.requests, sinkRequest{at: time.Now(), ticketID: p.TicketID, deliveryID: r.Header.Get("Idempotency-Key")})
	n := len(s.requests)
	respond := s.respond
	s.mu.Unlock()
	if respond != nil {
		respond(n, w)
	}
}

func (s *sink) got() []sinkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkRequest(nil), s.requests...)
}

// perTicket counts the requests per ticket.
func (s *sink) perTicket() map[string]int {
	out := map[string]int{}
	for _, r := range s.got() {
		out[r.ticketID]++
	}
	return out
}

// listAll returns every ticket, following the cursor.
func (s *server) listAll(t *testing.T) []ticket.Ticket {
	t.Helper()
	var all []ticket.Ticket
	path := "/ticket?limit=100"
	for {
		code, _, body := s.request(t, "GET", path, "", true)
		if code != 200 {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
		var page struct {
			Items      []ticket.Ticket
			NextCursor *string
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		path = "/ticket?limit=100&cursor=" + *page.NextCursor
	}
}

func pending(ts []ticket.Ticket) (n int) {
	for _, tk := range ts {
		if tk.Notification.Status == ticket.NotificationPending {
			n++
		}
	}
	return n
}

// TestClientHangsUpAfterSending: reporters whose connection drops right after the request went
// out still get a ticket whose notification is sent, without waiting for a sweep.
func TestClientHangsUpAfterSending(t *testing.T) {
	s := startServer(t, t.TempDir(), "--create-rate", "0", "--create-client-rate", "0", "--max-in-flight", "0")
	addr := strings.TrimPrefix(s.URL, "http://")
	const n = 400
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := fmt.Sprintf(ticketBody, fmt.Sprintf("Dropped %d", i))
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			fmt.Fprintf(c, "POST /ticket HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
			c.Close() // gone before any answer
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(15 * time.Second)
	var all []ticket.Ticket
	for {
		all = s.listAll(t)
		if (len(all) == n && pending(all) == 0) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(all) != n || pending(all) != 0 {
		t.Errorf("15 s after %d creates whose clients hung up: %d stored, %d still PENDING; want %d stored, none PENDING", n, len(all), pending(all), n)
	}
}

// TestRestartMidDeliveryNoDuplicates: SIGTERM while webhook deliveries are in flight lets them
// finish and records them; after the restart the rest is delivered, and no ticket reaches the
// webhook twice.
func TestRestartMidDeliveryNoDuplicates(t *testing.T) {
	rec := &sink{respond: func(_ int, w http.ResponseWriter) { time.Sleep(700 * time.Millisecond) }}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	dir := t.TempDir()
	s := startServer(t, dir, "--webhook", hook.URL, "--create-rate", "0", "--create-client-rate", "0")
	const n = 16
	var ids []string
	for i := range n {
		ids = append(ids, s.create(t, fmt.Sprintf("In flight %d", i)).ID)
	}
	for deadline := time.Now().Add(10 * time.Second); len(rec.got()) < n/2; {
		if time.Now().After(deadline) {
			t.Fatalf("the webhook saw %d requests, want %d in flight", len(rec.got()), n/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if stopped, err := s.Wait(30 * time.Second); !stopped || err != nil {
		t.Fatalf("server after SIGTERM: stopped %v, err %v; want a clean exit", stopped, err)
	}
	s2 := startServer(t, dir, "--webhook", hook.URL)
	for _, id := range ids {
		if tk := s2.waitNotification(t, id, 30*time.Second); tk.Notification.Status != ticket.NotificationSent {
			t.Errorf("ticket %s after the restart: %+v, want SENT", id, tk.Notification)
		}
	}
	dup := 0
	for id, c := range rec.perTicket() {
		if c != 1 {
			dup++
			t.Errorf("ticket %s reached the webhook %d times", id, c)
		}
	}
	if got := len(rec.perTicket()); got != n || dup != 0 {
		t.Errorf("the webhook got %d tickets (%d duplicated), want %d once each", got, dup, n)
	}
	for _, r := range rec.got() {
		if r.deliveryID == "" || !strings.HasPrefix(r.deliveryID, r.ticketID+".") {
			t.Errorf("request for %s carried delivery ID %q", r.ticketID, r.deliveryID)
		}
	}
}

// TestSecondServerOnOneDataDirRefuses: two servers on one data directory would deliver the same
// notifications twice; the second refuses to start and says why.
func TestSecondServerOnOneDataDirRefuses(t *testing.T) {
	dir := t.TempDir()
	first := startServer(t, dir)
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "in use by another incidents serve") {
			t.Errorf("second server: exit %v, stderr %q; want a refusal naming the other server", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a second server on the same data directory kept running")
	}
	// The first one is unaffected.
	first.create(t, "Still here")
}

// TestRedirectingWebhookIsNotSent: a webhook that answers 3xx gets nothing more and the ticket
// says the channel failed; the redirect target never sees the reporter's details.
func TestRedirectingWebhookIsNotSent(t *testing.T) {
	target := &sink{}
	to := httptest.NewServer(target)
	defer to.Close()
	for _, code := range []int{301, 302, 307} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to.URL+"/moved", code)
			}))
			defer redirect.Close()
			s := startServer(t, t.TempDir(), "--webhook", redirect.URL)
			tk := s.waitNotification(t, s.create(t, "Redirected").ID, 15*time.Second)
			if tk.Notification.Status == ticket.NotificationSent {
				t.Fatalf("notification SENT although the webhook redirected: %+v", tk.Notification)
			}
			var hook *ticket.ChannelDelivery
			for i, c := range tk.Notification.Channels {
				if strings.HasPrefix(c.Channel, "webhook:") {
					hook = &tk.Notification.Channels[i]
				}
			}
			if hook == nil || hook.Status != ticket.NotificationFailed || !strings.Contains(hook.LastError, "redirects are not followed") {
				t.Errorf("webhook channel = %+v, want FAILED: redirects are not followed", hook)
			}
		})
	}
	if n := len(target.got()); n != 0 {
		t.Errorf("the redirect target got %d requests, want none", n)
	}
}

// TestRetryAfterHonoured: a receiver answering 429 with Retry-After is not called again before
// the time it asked for.
func TestRetryAfterHonoured(t *testing.T) {
	rec := &sink{respond: func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	s := startServer(t, t.TempDir(), "--webhook", hook.URL)
	tk := s.waitNotification(t, s.create(t, "Throttled receiver").ID, 30*time.Second)
	got := rec.got()
	if tk.Notification.Status != ticket.NotificationSent || len(got) != 2 {
		t.Fatalf("notification %s after %d webhook requests, want SENT after 2", tk.Notification.Status, len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < 3*time.Second || gap > 8*time.Second {
		t.Errorf("second request %s after the 429, want the 3 s the receiver asked for", gap)
	}
	_, types := s.execution(t, tk.ID)
	if count(types, "WaitStateEntered") != 1 {
		t.Errorf("history %v, want the wait as a Wait state", types)
	}
}

// TestNoPersonalDataInExecutions: the execution's input, output and history hold the ticket's
// ID, never what the reporter wrote or who they are; nor do the server's logs.
func TestNoPersonalDataInExecutions(t *testing.T) {
	s := startServer(t, t.TempDir())
	body := `{"title":"Salary spreadsheet leaked","description":"Confidential: payroll of 42 people","severity":"critical","reporter":{"name":"Grace Hopper","email":"grace.hopper@example.org"}}`
	code, _, out := s.request(t, "POST", "/ticket", body, false)
	if code != 201 {
		t.Fatalf("create = %d %s", code, out)
	}
	var tk ticket.Ticket
	json.Unmarshal(out, &tk)
	s.waitNotification(t, tk.ID, 15*time.Second)
	s.execution(t, tk.ID)
	_, _, hist := s.request(t, "GET", "/admin/executions/"+tk.ID, "", true)
	for _, personal := range []string{"grace.hopper@example.org", "Grace Hopper", "payroll", "Salary spreadsheet"} {
		if bytes.Contains(hist, []byte(personal)) {
			t.Errorf("the execution record holds %q", personal)
		}
		if strings.Contains(s.Log.String(), personal) {
			t.Errorf("the server log holds %q", personal)
		}
	}
	if !bytes.Contains(hist, []byte(`{\"id\":\"`+tk.ID+`\"}`)) {
		t.Errorf("execution input is not the ticket ID alone: %s", hist)
	}
}

// TestReadOnlyDiskRecovers: while the data directory cannot be written, creates answer 5xx
// problem+json and /healthz is not OK; once it can, both recover by themselves.
func TestReadOnlyDiskRecovers(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	s.create(t, "Before")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	immutable := func(on bool) error {
		flag := "-i"
		if on {
			flag = "+i"
		}
		out, err := exec.Command("chattr", append([]string{flag, dir}, files...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("chattr %s: %v %s", flag, err, out)
		}
		return nil
	}
	if err := immutable(true); err != nil {
		// chattr needs root and a file system with inode flags (ext4, xfs, btrfs).
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot make the data directory read-only: %v", err)
		}
		t.Skipf("cannot make the data directory read-only here (%v); CI runs this", err)
	}
	t.Cleanup(func() { immutable(false) })
	health := func() int {
		resp, err := http.Get(s.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	post := func() (int, string) {
		code, hdr, body := s.request(t, "POST", "/ticket", fmt.Sprintf(ticketBody, "During"), false)
		return code, hdr.Get("Content-Type") + " " + string(body)
	}
	readOnlyUntil := time.Now().Add(5 * time.Second)
	for time.Now().Before(readOnlyUntil) {
		if code, body := post(); code < 500 || !strings.HasPrefix(body, "application/problem+json") {
			t.Errorf("create on a read-only disk = %d %s, want 5xx problem+json", code, body)
		}
		time.Sleep(1100 * time.Millisecond) // past the health cache
		if code := health(); code == 200 {
			t.Errorf("/healthz = 200 on a read-only disk")
		}
	}
	if err := immutable(false); err != nil {
		t.Fatal(err)
	}
	var code int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, _ = post(); code == 201 && health() == 200 {
			break
		}
	}
	if code != 201 || health() != 200 {
		t.Errorf("5 s after the disk came back: create %d, /healthz %d; want 201 and 200 without a restart", code, health())
	}
}
