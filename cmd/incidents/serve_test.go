package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/servetest"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// binary is the real incidents command, built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "incidents-e2e")
	if err != nil {
		panic(err)
	}
	if binary, err = servetest.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `incidents serve` with the API calls the tests make.
type server struct{ *servetest.Server }

// startServer runs the binary on a free port with data in dir and waits until it listens.
func startServer(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	s := &server{servetest.Start(t, binary, dir, args...)}
	if st, _ := os.Stat(filepath.Join(dir, "admin-token")); st.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode = %v, want 0600", st.Mode().Perm())
	}
	return s
}

func (s *server) request(t *testing.T, method, path, body string, admin bool) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (s *server) create(t *testing.T, title string) *ticket.Ticket {
	t.Helper()
	code, hdr, body := s.request(t, "POST", "/ticket", `{"title":"`+title+`","description":"It broke.","severity":"high","category":"network","reporter":{"name":"Ada","email":"ada@example.com"}}`, false)
	if code != http.StatusCreated {
		t.Fatalf("POST /ticket = %d %s, want 201", code, body)
	}
	var tk ticket.Ticket
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	if hdr.Get("Location") != "/ticket/"+tk.ID {
		t.Errorf("Location = %q", hdr.Get("Location"))
	}
	return &tk
}

func (s *server) get(t *testing.T, id string) *ticket.Ticket {
	t.Helper()
	code, _, body := s.request(t, "GET", "/ticket/"+id, "", true)
	if code != 200 {
		t.Fatalf("GET /ticket/%s = %d %s", id, code, body)
	}
	var tk ticket.Ticket
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	return &tk
}

// waitNotification polls until the ticket's notification leaves PENDING.
func (s *server) waitNotification(t *testing.T, id string, within time.Duration) *ticket.Ticket {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		tk := s.get(t, id)
		if tk.Notification.Status != ticket.NotificationPending {
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification still PENDING after %s: %+v", within, tk.Notification)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type execution struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Events []struct {
		ID              int    `json:"id"`
		PreviousEventID int    `json:"previousEventId"`
		Type            string `json:"type"`
		Timestamp       string `json:"timestamp"`
	} `json:"events"`
}

// execution waits for the latest execution named name to stop (the ticket's notification is
// recorded by its last task, a moment before the execution itself ends) and returns it.
func (s *server) execution(t *testing.T, name string) (execution, []string) {
	t.Helper()
	var x execution
	for deadline := time.Now().Add(10 * time.Second); ; {
		code, _, body := s.request(t, "GET", "/admin/executions/"+name, "", true)
		if code != 200 {
			t.Fatalf("GET /admin/executions/%s = %d %s", name, code, body)
		}
		x = execution{}
		if err := json.Unmarshal(body, &x); err != nil {
			t.Fatal(err)
		}
		if x.Status != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still RUNNING after 10s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var types []string
	for i, e := range x.Events {
		types = append(types, e.Type)
		if e.ID != i+1 || e.Timestamp == "" {
			t.Errorf("event %d = id %d timestamp %q, want ids 1..n with timestamps", i, e.ID, e.Timestamp)
		}
	}
	return x, types
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

func TestServeEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir())
	tk := s.create(t, "VPN down")
	if tk.Notification.Status != ticket.NotificationPending || tk.Status != ticket.StatusOpen {
		t.Errorf("201 body = %+v, want open and PENDING", tk)
	}
	if got := s.get(t, tk.ID); got.Title != "VPN down" || got.Reporter.Email != "ada@example.com" {
		t.Errorf("GET = %+v", got)
	}
	if code, _, _ := s.request(t, "GET", "/ticket", "", false); code != http.StatusUnauthorized {
		t.Errorf("GET /ticket without token = %d, want 401", code)
	}
	code, _, body := s.request(t, "GET", "/ticket?limit=10", "", true)
	if code != 200 || !strings.Contains(string(body), tk.ID) {
		t.Errorf("GET /ticket with token = %d %s, want the ticket listed", code, body)
	}
	done := s.waitNotification(t, tk.ID, 15*time.Second)
	if c := done.Notification.Channel("outbox"); done.Notification.Status != ticket.NotificationSent || done.Notification.Attempts != 1 || c == nil || c.Status != ticket.NotificationSent {
		t.Fatalf("notification = %+v, want SENT after 1 attempt via the outbox", done.Notification)
	}
	code, _, body = s.request(t, "GET", "/admin/outbox", "", true)
	if code != 200 || !strings.Contains(string(body), tk.ID) || !strings.Contains(string(body), "VPN down") {
		t.Errorf("outbox = %d %s, want the notification", code, body)
	}
	x, types := s.execution(t, tk.ID)
	if x.Status != "SUCCEEDED" || types[0] != "ExecutionStarted" || types[len(types)-1] != "ExecutionSucceeded" {
		t.Errorf("execution %s with events %v, want SUCCEEDED from ExecutionStarted to ExecutionSucceeded", x.Status, types)
	}
	code, _, body = s.request(t, "GET", "/admin/executions?ticket="+tk.ID, "", true)
	if code != 200 || !strings.Contains(string(body), `"status":"SUCCEEDED"`) {
		t.Errorf("executions of the ticket = %d %s", code, body)
	}
}

func TestServeSite(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html", "<html"},
		{"/config.js", "text/javascript", `"mode":"local"`},
		{"/workflow.asl.json", "application/json", `"StartAt"`},
	} {
		resp, err := http.Get(s.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(b), tc.contains) {
			t.Errorf("GET %s = %d %s, want %s containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType, tc.contains)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s CSP = %q", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s lacks nosniff or Referrer-Policy", tc.path)
		}
	}
}

// hookServer is a webhook receiver that answers with the queued statuses, then 200.
type hookServer struct {
	mu       sync.Mutex
	statuses []int
	hits     int
	accepted int
	hang     chan struct{}
}

func (w *hookServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.hits++
	hang := w.hang
	code := http.StatusOK
	if len(w.statuses) > 0 {
		code, w.statuses = w.statuses[0], w.statuses[1:]
	}
	if code == http.StatusOK && hang == nil {
		w.accepted++
	}
	w.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	rw.WriteHeader(code)
}

func TestWebhookRetriedThenSent(t *testing.T) {
	hook := &hookServer{statuses: []int{503, 503}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	s := startServer(t, t.TempDir(), "--webhook", srv.URL+"/hook?token=abc")
	tk := s.create(t, "Mail queue stuck")
	done := s.waitNotification(t, tk.ID, 30*time.Second)
	if done.Notification.Status != ticket.NotificationSent || done.Notification.Attempts != 3 {
		t.Fatalf("notification = %+v, want SENT after 3 attempts", done.Notification)
	}
	if hook.hits != 3 || hook.accepted != 1 {
		t.Errorf("webhook hits %d accepted %d, want 3 and 1", hook.hits, hook.accepted)
	}
	if sent, _, _ := done.Notification.Count(); sent != 2 {
		t.Errorf("channels = %+v, want outbox and the webhook SENT", done.Notification.Channels)
	}
	code, _, body := s.request(t, "GET", "/admin/outbox?ticket="+tk.ID, "", true)
	if code != 200 || strings.Count(string(body), `"ticketId"`) != 1 {
		t.Errorf("outbox for the ticket = %s, want exactly one entry (no resend on retry)", body)
	}
	x, types := s.execution(t, tk.ID)
	if x.Status != "SUCCEEDED" || count(types, "LambdaFunctionFailed") != 2 || count(types, "LambdaFunctionScheduled") != 3 {
		t.Errorf("execution %s events %v, want 2 failed publishes of 3", x.Status, types)
	}
}

// TestWebhookRejected: the outbox took the notification, the webhook answered 400 (not
// retried): the delivery is PARTIAL, to the admins and, in plain terms, to the reporter.
func TestWebhookRejected(t *testing.T) {
	hook := &hookServer{statuses: []int{400}}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	s := startServer(t, t.TempDir(), "--webhook", srv.URL)
	tk := s.create(t, "Bad hook")
	done := s.waitNotification(t, tk.ID, 15*time.Second)
	if done.Notification.Status != ticket.NotificationPartial || !strings.Contains(done.Notification.LastError, "400") {
		t.Fatalf("notification = %+v, want PARTIAL with the 400 as lastError", done.Notification)
	}
	if hook.hits != 1 {
		t.Errorf("webhook hit %d times, want 1 (a 4xx is not retried)", hook.hits)
	}
	x, types := s.execution(t, tk.ID)
	if x.Status != "FAILED" || types[len(types)-1] != "ExecutionFailed" || x.Error != "NotificationPartial" {
		t.Errorf("execution %s %s events %v, want FAILED NotificationPartial", x.Status, x.Error, types)
	}
	_, _, body := s.request(t, "GET", "/ticket/"+tk.ID, "", false)
	var public ticket.Ticket
	json.Unmarshal(body, &public)
	if public.Notification.Status != ticket.NotificationPartial || strings.Contains(string(body), "400") || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("public view = %s, want PARTIAL without the error or the address", body)
	}
}

func TestCrashAfterAcknowledge(t *testing.T) {
	dir := t.TempDir()
	stuck := &hookServer{hang: make(chan struct{})}
	slow := httptest.NewServer(stuck)
	defer slow.Close()
	defer close(stuck.hang)
	s := startServer(t, dir, "--webhook", slow.URL)
	tk := s.create(t, "Power cut")
	// The workflow is now blocked on the webhook: kill the server without any grace.
	s.Kill(t)

	good := &hookServer{}
	fine := httptest.NewServer(good)
	defer fine.Close()
	s2 := startServer(t, dir, "--webhook", fine.URL)
	got := s2.get(t, tk.ID)
	if got.Title != "Power cut" {
		t.Fatalf("after SIGKILL the ticket reads %+v", got)
	}
	done := s2.waitNotification(t, tk.ID, 20*time.Second)
	if done.Notification.Status != ticket.NotificationSent {
		t.Fatalf("after restart the notification is %+v, want SENT", done.Notification)
	}
	if good.accepted != 1 {
		t.Errorf("restarted server delivered %d times to the webhook, want 1", good.accepted)
	}
}

func TestBadRequestsStoreNothing(t *testing.T) {
	s := startServer(t, t.TempDir())
	for _, tc := range []struct {
		name, contentType, body string
		want                    int
	}{
		{"Malformed", "application/json", `{"title":`, 400},
		{"UnknownField", "application/json", `{"title":"x","hack":true,"reporter":{"name":"A","email":"a@b.co"}}`, 400},
		{"ContentType", "text/plain", `{}`, 415},
		{"TooLarge", "application/json", `{"title":"` + strings.Repeat("x", 70000) + `"}`, 413},
		{"Invalid", "application/json", `{"title":"","reporter":{"name":"A","email":"nope"}}`, 400},
	} {
		req, _ := http.NewRequest("POST", s.URL+"/ticket", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want %d problem+json", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.want)
		}
	}
	_, _, body := s.request(t, "GET", "/admin/stats", "", true)
	if !strings.Contains(string(body), `"total":0`) {
		t.Errorf("stats after bad requests = %s, want total 0", body)
	}
}

func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, t.TempDir())
	tk := s.create(t, "Before shutdown")
	s.waitNotification(t, tk.ID, 15*time.Second)
	stopped, err := s.Stop(15 * time.Second)
	if !stopped {
		t.Fatal("server did not stop within 15s of SIGINT")
	}
	if err != nil {
		t.Errorf("exit after SIGINT: %v, want status 0", err)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-token")
	first, err := secretFile(path)
	if err != nil || len(first) != 64 {
		t.Fatalf("secretFile = %q, %v; want 64 hex characters", first, err)
	}
	again, err := secretFile(path)
	if err != nil || again != first {
		t.Errorf("second secretFile = %q, %v; want the same secret", again, err)
	}
	os.Chmod(path, 0o644)
	if _, err := secretFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable secret: err %v, want a chmod hint", err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abc\n"), 0o600)
	if _, err := secretFile(short); err == nil {
		t.Error("a 3-character secret was accepted")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestWebhookSecretStaysPrivate(t *testing.T) {
	hook := &hookServer{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	s := startServer(t, t.TempDir(), "--webhook", srv.URL+"/services/T0001/B0002/SLACKSECRETTOKEN")
	tk := s.create(t, "Secret-safe")
	s.waitNotification(t, tk.ID, 15*time.Second)
	for _, admin := range []bool{false, true} {
		_, _, body := s.request(t, "GET", "/ticket/"+tk.ID, "", admin)
		if strings.Contains(string(body), "SLACKSECRETTOKEN") {
			t.Errorf("GET (admin %v) shows the webhook secret: %s", admin, body)
		}
	}
	_, _, body := s.request(t, "GET", "/admin/executions/"+tk.ID, "", true)
	if strings.Contains(string(body), "SLACKSECRETTOKEN") {
		t.Errorf("the execution history shows the webhook secret")
	}
	if strings.Contains(s.Log.String(), "SLACKSECRETTOKEN") {
		t.Errorf("the log shows the webhook secret")
	}
}
