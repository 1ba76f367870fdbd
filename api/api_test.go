package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
)

const token = "s3cret-token"

type starter struct {
	mu      sync.Mutex
	started []string
	err     error
}

func (s *starter) Start(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, id)
	return id, s.err
}

func (s *starter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.started)
}

type fixture struct {
	srv     *httptest.Server
	store   ticket.Store
	starter *starter
	logs    *bytes.Buffer
}

// newFixture serves the API on a fresh SQLite store; opts adjust the configuration.
func newFixture(t *testing.T, opts ...func(*api.Config)) *fixture {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{store: sqlite.NewStore(db, []byte("key")), starter: &starter{}, logs: &bytes.Buffer{}}
	c := api.Config{
		Store:      f.store,
		Starter:    f.starter,
		AdminToken: func(context.Context) (string, error) { return token, nil },
		Log:        slog.New(slog.NewTextHandler(f.logs, nil)),
	}
	for _, o := range opts {
		o(&c)
	}
	f.srv = httptest.NewServer(api.New(c))
	t.Cleanup(f.srv.Close)
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, contentType, body string, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

const valid = `{"title":"VPN down","description":"Cannot connect since 9:00","severity":"high","category":"network","reporter":{"name":"Ada","email":"ada@example.com"}}`

func admin() map[string]string { return map[string]string{"Authorization": "Bearer " + token} }

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	st, err := f.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Total
}

func TestCreateThenGet(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json; charset=utf-8", valid, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /ticket = %d %s, want 201", r.status, r.body)
	}
	var created ticket.Ticket
	if err := json.Unmarshal(r.body, &created); err != nil {
		t.Fatal(err)
	}
	if got, want := r.header.Get("Location"), "/ticket/"+created.ID; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if created.Status != ticket.StatusOpen || created.Notification.Status != ticket.NotificationPending || created.Severity != ticket.SeverityHigh {
		t.Errorf("created ticket = %+v, want open, PENDING, high", created)
	}
	if len(created.ID) != 36 || created.ID[14] != '7' {
		t.Errorf("id %q is not a UUIDv7", created.ID)
	}
	if got := f.starter.started; len(got) != 1 || got[0] != created.ID {
		t.Errorf("workflow started for %v, want [%s]", got, created.ID)
	}
	g := f.do(t, "GET", "/ticket/"+created.ID, "", "", nil)
	if g.status != http.StatusOK || !bytes.Contains(g.body, []byte(`"title":"VPN down"`)) {
		t.Errorf("GET /ticket/{id} = %d %s", g.status, g.body)
	}
}

func TestCreateDefaultsSeverity(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", `{"title":"x","reporter":{"name":"A","email":"a@b.co"}}`, nil)
	if r.status != http.StatusCreated || !bytes.Contains(r.body, []byte(`"severity":"medium"`)) {
		t.Errorf("POST without severity = %d %s, want 201 medium", r.status, r.body)
	}
}

func TestStartFailureStillAcknowledges(t *testing.T) {
	f := newFixture(t)
	f.starter.err = errors.New("throttled: internal detail 42")
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	if r.status != http.StatusCreated || !bytes.Contains(r.body, []byte(`"PENDING"`)) {
		t.Fatalf("POST with a failing starter = %d %s, want 201 PENDING", r.status, r.body)
	}
	if !strings.Contains(f.logs.String(), "throttled: internal detail 42") {
		t.Errorf("start failure not logged: %s", f.logs)
	}
}

func TestBadRequests(t *testing.T) {
	big := `{"title":"x","description":"` + strings.Repeat("a", 70_000) + `","reporter":{"name":"A","email":"a@b.co"}}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		fields                  []string
	}{
		{"ErrMalformedJSON", "application/json", `{"title":`, 400, []string{"title"}},
		{"ErrNotAnObject", "application/json", `[1,2]`, 400, nil},
		{"ErrTrailingData", "application/json", valid + `{}`, 400, nil},
		{"ErrUnknownField", "application/json", `{"title":"x","priority":1,"reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"priority"}},
		{"ErrWrongType", "application/json", `{"title":5,"reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"title"}},
		{"ErrContentType", "text/plain", valid, 415, nil},
		{"ErrNoContentType", "", valid, 415, nil},
		{"ErrTooLarge", "application/json", big, 413, nil},
		{"ErrTitleRequired", "application/json", `{"title":"  ","reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"title"}},
		{"ErrTitleTooLong", "application/json", `{"title":"` + strings.Repeat("é", 201) + `","reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"title"}},
		{"ErrDescriptionTooLong", "application/json", `{"title":"x","description":"` + strings.Repeat("a", 10001) + `","reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"description"}},
		{"ErrSeverity", "application/json", `{"title":"x","severity":"urgent","reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"severity"}},
		{"ErrCategoryTooLong", "application/json", `{"title":"x","category":"` + strings.Repeat("c", 65) + `","reporter":{"name":"A","email":"a@b.co"}}`, 400, []string{"category"}},
		{"ErrReporterMissing", "application/json", `{"title":"x"}`, 400, []string{"reporter.name", "reporter.email"}},
		{"ErrEmailInvalid", "application/json", `{"title":"x","reporter":{"name":"A","email":"Ada <a@b.co>"}}`, 400, []string{"reporter.email"}},
		{"ErrEmailNoDomain", "application/json", `{"title":"x","reporter":{"name":"A","email":"a@localhost"}}`, 400, []string{"reporter.email"}},
		{"ErrManyFields", "application/json", `{"title":"","severity":"x","reporter":{"name":"","email":"no"}}`, 400, []string{"title", "severity", "reporter.name", "reporter.email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.do(t, "POST", "/ticket", tc.contentType, tc.body, nil)
			if r.status != tc.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tc.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p api.Problem
			if err := json.Unmarshal(r.body, &p); err != nil || p.Status != tc.status || p.Detail == "" || p.RequestID == "" {
				t.Errorf("problem = %s (err %v), want status, detail and requestId", r.body, err)
			}
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
				if e.Message == "" {
					t.Errorf("field %s has no message", e.Field)
				}
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("error fields = %v, want %v", fields, tc.fields)
			}
			if n := f.count(t); n != 0 {
				t.Errorf("a bad request stored %d tickets", n)
			}
			if len(f.starter.started) != 0 {
				t.Errorf("a bad request started a workflow")
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	key := map[string]string{"Idempotency-Key": "2b1f5c7e-4f0e-4a8e-9d7a-1c2b3d4e5f60"}
	first := f.do(t, "POST", "/ticket", "application/json", valid, key)
	second := f.do(t, "POST", "/ticket", "application/json", valid, key)
	if first.status != 201 || second.status != 201 {
		t.Fatalf("statuses %d, %d, want 201 twice", first.status, second.status)
	}
	var a, b ticket.Ticket
	json.Unmarshal(first.body, &a)
	json.Unmarshal(second.body, &b)
	if a.ID != b.ID || second.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay returned %s (replayed header %q), want %s", b.ID, second.header.Get("Idempotent-Replayed"), a.ID)
	}
	if n := f.count(t); n != 1 {
		t.Errorf("%d tickets stored, want 1", n)
	}
	// The first request started the workflow; a replay of a ticket whose delivery never
	// began (the first start failed, or the client hung up before it) starts it again.
	if got := f.starter.count(); got != 2 {
		t.Errorf("workflow started %d times, want twice (create, and the replay of a ticket not yet delivering)", got)
	}
	if _, err := f.store.Update(context.Background(), a.ID, func(x *ticket.Ticket) error {
		_, err := x.BeginDelivery("exec-1", []string{"outbox"}, true, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.do(t, "POST", "/ticket", "application/json", valid, key)
	if got := f.starter.count(); got != 2 {
		t.Errorf("workflow started %d times, want no start for a replay of a ticket already delivering", got)
	}
	other := f.do(t, "POST", "/ticket", "application/json", strings.Replace(valid, "VPN", "DNS", 1), key)
	if other.status != http.StatusUnprocessableEntity || other.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("key reused with another body = %d %s, want a 422 problem", other.status, other.body)
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/ticket/0193a6f0-0000-7000-8000-000000000001", "/nope"} {
		r := f.do(t, "GET", path, "", "", nil)
		if r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s = %d %s, want a 404 problem", path, r.status, r.header.Get("Content-Type"))
		}
	}
	r := f.do(t, "DELETE", "/ticket", "", "", nil)
	if r.status != 405 || r.header.Get("Allow") == "" {
		t.Errorf("DELETE /ticket = %d Allow %q, want 405 with Allow", r.status, r.header.Get("Allow"))
	}
}

func TestAdminAuth(t *testing.T) {
	f := newFixture(t)
	for _, hdr := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": "Basic " + token}} {
		for _, path := range []string{"/ticket", "/admin/stats", "/admin/executions?ticket=x", "/admin/outbox", "/admin/tickets/x"} {
			r := f.do(t, "GET", path, "", "", hdr)
			if r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s with %v = %d, want 401 with WWW-Authenticate", path, hdr, r.status)
			}
		}
	}
	if r := f.do(t, "GET", "/ticket", "", "", admin()); r.status != 200 {
		t.Errorf("GET /ticket with the token = %d %s", r.status, r.body)
	}
}

func TestListPagingAndFilters(t *testing.T) {
	f := newFixture(t)
	for _, sev := range []string{"low", "high", "low", "critical", "low"} {
		r := f.do(t, "POST", "/ticket", "application/json", strings.Replace(valid, `"high"`, `"`+sev+`"`, 1), nil)
		if r.status != 201 {
			t.Fatal(string(r.body))
		}
		time.Sleep(2 * time.Millisecond)
	}
	var page struct {
		Items      []ticket.Ticket `json:"items"`
		NextCursor *string         `json:"nextCursor"`
	}
	r := f.do(t, "GET", "/ticket?limit=2&severity=low", "", "", admin())
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Items) != 2 || page.NextCursor == nil {
		t.Fatalf("first page = %s, want 2 items and a cursor", r.body)
	}
	r = f.do(t, "GET", "/ticket?limit=2&severity=low&cursor="+*page.NextCursor, "", "", admin())
	page.NextCursor = nil
	if err := json.Unmarshal(r.body, &page); err != nil || len(page.Items) != 1 || page.NextCursor != nil {
		t.Fatalf("second page = %s, want 1 item and nextCursor null", r.body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "status=closed", "severity=urgent", "cursor=forged"} {
		r := f.do(t, "GET", "/ticket?"+q, "", "", admin())
		if r.status != 400 {
			t.Errorf("GET /ticket?%s = %d, want 400", q, r.status)
		}
	}
	r = f.do(t, "GET", "/admin/stats", "", "", admin())
	if !bytes.Contains(r.body, []byte(`"total":5`)) || !bytes.Contains(r.body, []byte(`"low":3`)) {
		t.Errorf("stats = %s, want total 5, low 3", r.body)
	}
}

func TestPatchStatus(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	path := "/ticket/" + tk.ID
	if r := f.do(t, "PATCH", path, "application/json", `{"status":"acknowledged"}`, nil); r.status != 401 {
		t.Errorf("PATCH without token = %d, want 401", r.status)
	}
	hdr := admin()
	hdr["If-Match"] = `"1"`
	r = f.do(t, "PATCH", path, "application/json", `{"status":"acknowledged"}`, hdr)
	if r.status != 200 || r.header.Get("ETag") != `"2"` || !bytes.Contains(r.body, []byte(`"status":"acknowledged"`)) {
		t.Fatalf("PATCH = %d ETag %q %s, want 200, ETag \"2\", acknowledged", r.status, r.header.Get("ETag"), r.body)
	}
	if r := f.do(t, "PATCH", path, "application/json", `{"status":"resolved"}`, hdr); r.status != http.StatusPreconditionFailed {
		t.Errorf("PATCH with a stale If-Match = %d, want 412", r.status)
	}
	if r := f.do(t, "PATCH", path, "application/json", `{"status":"acknowledged"}`, admin()); r.status != http.StatusConflict {
		t.Errorf("PATCH to the same status = %d, want 409", r.status)
	}
	if r := f.do(t, "PATCH", path, "application/json", `{"status":"closed"}`, admin()); r.status != 400 {
		t.Errorf("PATCH to an unknown status = %d, want 400", r.status)
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	if got.Status != ticket.StatusAcknowledged || got.Timeline[len(got.Timeline)-1].Type != ticket.EventStatusChanged {
		t.Errorf("stored ticket status %s timeline %+v", got.Status, got.Timeline)
	}
}

// failingStore fails every call with an internal error that must never reach a client.
type failingStore struct{ ticket.Store }

func (failingStore) Get(context.Context, string) (*ticket.Ticket, error) {
	return nil, errors.New("disk I/O error at /var/lib/secret.db")
}

func TestInternalErrorsAreNotLeaked(t *testing.T) {
	logs := &bytes.Buffer{}
	srv := httptest.NewServer(api.New(api.Config{Store: failingStore{}, Log: slog.New(slog.NewTextHandler(logs, nil))}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ticket/abc")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || bytes.Contains(b, []byte("secret")) || !bytes.Contains(b, []byte("Internal error.")) {
		t.Errorf("internal error response = %d %s, want 500 'Internal error.' without details", resp.StatusCode, b)
	}
	rid := resp.Header.Get("X-Request-Id")
	if !strings.Contains(logs.String(), "secret.db") || !strings.Contains(logs.String(), rid) {
		t.Errorf("log %q lacks the error or the request id %s", logs, rid)
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, func(c *api.Config) { c.AllowOrigin = "https://help.example.com" })
	r := f.do(t, "OPTIONS", "/ticket", "", "", map[string]string{"Origin": "https://help.example.com"})
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://help.example.com" {
		t.Errorf("preflight = %d ACAO %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = f.do(t, "OPTIONS", "/ticket", "", "", map[string]string{"Origin": "https://evil.example.com"})
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin got ACAO %q", got)
	}
}

func TestPublicViewHidesDeliveryInternals(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	secret := "webhook:https://hooks.slack.com/services/T0/B0/SECRET"
	if _, err := f.store.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error {
		exec := "arn:aws:states:eu-west-1:123456789012:express:notify:x:y"
		if _, err := x.BeginDelivery(exec, []string{secret, "outbox"}, true, time.Now()); err != nil {
			return err
		}
		x.ChannelDelivered(secret, time.Now())
		return x.EndAttempt(exec, []ticket.ChannelOutcome{{Channel: "outbox", Error: "open /var/lib/incidents/outbox.jsonl: is a directory", Permanent: true}}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	public := f.do(t, "GET", "/ticket/"+tk.ID, "", "", nil)
	for _, leak := range []string{"SECRET", "/var/lib", "123456789012"} {
		if bytes.Contains(public.body, []byte(leak)) {
			t.Errorf("public GET shows %q: %s", leak, public.body)
		}
	}
	if !bytes.Contains(public.body, []byte(`"title":"VPN down"`)) || !bytes.Contains(public.body, []byte(`"notification.delivered"`)) {
		t.Errorf("public GET lost the ticket or its progress: %s", public.body)
	}
	if public.header.Get("Vary") != "Authorization" {
		t.Errorf("Vary = %q, want Authorization (the answer depends on it)", public.header.Get("Vary"))
	}
	full := f.do(t, "GET", "/ticket/"+tk.ID, "", "", admin())
	if !bytes.Contains(full.body, []byte("SECRET")) || !bytes.Contains(full.body, []byte("/var/lib")) {
		t.Errorf("admin GET lacks the delivery details: %s", full.body)
	}
	adminRoute := f.do(t, "GET", "/admin/tickets/"+tk.ID, "", "", admin())
	if adminRoute.status != 200 || !bytes.Contains(adminRoute.body, []byte("SECRET")) || adminRoute.header.Get("ETag") == "" {
		t.Errorf("GET /admin/tickets/{id} = %d %v %s, want the whole ticket with its ETag", adminRoute.status, adminRoute.header, adminRoute.body)
	}
	// The public function on AWS holds no admin token: a bearer header gets the public view.
	noToken := newFixture(t, func(c *api.Config) { c.AdminToken = nil })
	r = noToken.do(t, "POST", "/ticket", "application/json", valid, nil)
	json.Unmarshal(r.body, &tk)
	if _, err := noToken.store.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error {
		x.Notification.LastError = "open /var/lib/incidents/outbox.jsonl: is a directory"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := noToken.do(t, "GET", "/ticket/"+tk.ID, "", "", admin()); r.status != 200 || bytes.Contains(r.body, []byte("/var/lib")) {
		t.Errorf("GET /ticket/{id} without an admin token configured = %d %s, want the public view", r.status, r.body)
	}
}

func TestTrailingJSONRejected(t *testing.T) {
	f := newFixture(t)
	for _, tail := range []string{"}", "]", "}}]]", " x", " {}"} {
		if r := f.do(t, "POST", "/ticket", "application/json", valid+tail, nil); r.status != 400 {
			t.Errorf("body + %q = %d, want 400", tail, r.status)
		}
	}
	if n := f.count(t); n != 0 {
		t.Errorf("%d tickets stored from malformed bodies", n)
	}
}

func TestIfMatchIsStrict(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	for _, tag := range []string{`"-1"`, `W/"1"`, `"x"`, `"2"`, `"01"`} {
		hdr := admin()
		hdr["If-Match"] = tag
		if r := f.do(t, "PATCH", "/ticket/"+tk.ID, "application/json", `{"status":"resolved"}`, hdr); r.status != http.StatusPreconditionFailed {
			t.Errorf("If-Match %s = %d, want 412", tag, r.status)
		}
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	if got.Status != ticket.StatusOpen {
		t.Errorf("a failed precondition changed the ticket to %s", got.Status)
	}
}

func TestRequestLog(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "GET", "/ticket/0193a6f0-0000-7000-8000-00000000abcd", "", "", nil)
	id := r.header.Get("X-Request-Id")
	logs := f.logs.String()
	if !strings.Contains(logs, "msg=request") || !strings.Contains(logs, "requestId="+id) || !strings.Contains(logs, "status=404") || !strings.Contains(logs, `route="GET /ticket/{id}"`) {
		t.Errorf("request log = %q, want one line with the request id, route and status", logs)
	}
	if strings.Contains(logs, "00000000abcd") {
		t.Errorf("request log names the ticket id from the path: %q", logs)
	}
}

func TestCreateLimitd(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	client := "192.0.2.1"
	f := newFixture(t, func(c *api.Config) {
		c.CreateLimit = api.NewThrottle(api.ThrottleConfig{ClientRate: 0.5, ClientBurst: 2, GlobalRate: 1, GlobalBurst: 3, Now: clock})
		c.ClientAddr = func(*http.Request) string { return client }
	})
	post := func() response { return f.do(t, "POST", "/ticket", "application/json", valid, nil) }
	for i := range 2 {
		if r := post(); r.status != 201 {
			t.Fatalf("POST %d within the client's burst = %d %s, want 201", i+1, r.status, r.body)
		}
	}
	r := post()
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("third POST from one client = %d Retry-After %q %s, want a 429 problem with Retry-After 2 (0.5/s)", r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"))
	}
	// Invalid bodies are refused before the throttle and cost nothing: another client
	// still gets the last token of the global burst.
	for range 20 {
		if r := f.do(t, "POST", "/ticket", "application/json", `{"title":""}`, nil); r.status != 400 {
			t.Fatalf("invalid POST = %d, want 400 (validation before throttling)", r.status)
		}
	}
	client = "192.0.2.2"
	if r := post(); r.status != 201 {
		t.Fatalf("POST from a second client = %d %s, want 201 (own bucket, global burst 3)", r.status, r.body)
	}
	client = "192.0.2.3"
	if r := post(); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" || !bytes.Contains(r.body, []byte("right now")) {
		t.Errorf("POST past the global ceiling = %d Retry-After %q %s, want 429 from the global limit", r.status, r.header.Get("Retry-After"), r.body)
	}
	now = now.Add(2 * time.Second)
	if r := post(); r.status != 201 {
		t.Errorf("POST from a third client after 2s = %d %s, want 201 (the refused client kept its token)", r.status, r.body)
	}
	if n := f.count(t); n != 4 {
		t.Errorf("%d tickets stored, want 4", n)
	}
}

// TestCreateBackPressure: while too many notifications wait, creates are refused with 503 and
// Retry-After before anything is stored, instead of stranding tickets.
func TestCreateBackPressure(t *testing.T) {
	backlog := 10
	f := newFixture(t, func(c *api.Config) { c.Backlog = func() int { return backlog }; c.MaxBacklog = 5 })
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST over the backlog = %d Retry-After %q %s, want a 503 problem with Retry-After", r.status, r.header.Get("Retry-After"), r.header.Get("Content-Type"))
	}
	if n := f.count(t); n != 0 {
		t.Errorf("%d tickets stored, want none", n)
	}
	backlog = 2
	if r := f.do(t, "POST", "/ticket", "application/json", valid, nil); r.status != 201 {
		t.Errorf("POST under the backlog = %d, want 201", r.status)
	}
}

func TestListSearchSortAndTotal(t *testing.T) {
	f := newFixture(t)
	for _, title := range []string{"VPN down", "Printer jammed", "VPN slow"} {
		if r := f.do(t, "POST", "/ticket", "application/json", strings.Replace(valid, "VPN down", title, 1), nil); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
	}
	var page struct {
		Items []struct{ Title string }
		Total *int
	}
	r := f.do(t, "GET", "/ticket?q=vpn&sort=age", "", "", admin())
	json.Unmarshal(r.body, &page)
	if r.status != 200 || len(page.Items) != 2 || page.Items[0].Title != "VPN down" || page.Total == nil || *page.Total != 2 {
		t.Errorf("GET /ticket?q=vpn&sort=age = %d %s, want the two VPN tickets oldest first, total 2", r.status, r.body)
	}
	for _, bad := range []string{"sort=random", "notification=LOST", "from=yesterday", "q=" + strings.Repeat("x", 201), "from=2026-12-03&to=2026-12-02"} {
		r := f.do(t, "GET", "/ticket?"+bad, "", "", admin())
		if r.status != 400 || !bytes.Contains(r.body, []byte(`"field"`)) {
			t.Errorf("GET /ticket?%s = %d %s, want a 400 naming the parameter", bad, r.status, r.body)
		}
	}
	r = f.do(t, "GET", "/ticket?notification=pending&from=2020-01-01", "", "", admin())
	json.Unmarshal(r.body, &page)
	if r.status != 200 || len(page.Items) != 3 {
		t.Errorf("GET /ticket?notification=pending = %d %s, want all three", r.status, r.body)
	}
}

func TestBulkActions(t *testing.T) {
	f := newFixture(t)
	var made []string
	for range 3 {
		r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
		var tk ticket.Ticket
		json.Unmarshal(r.body, &tk)
		made = append(made, tk.ID)
	}
	// One resolved already: resolving it again is that row's failure, not the request's.
	f.do(t, "PATCH", "/ticket/"+made[2], "application/json", `{"status":"resolved"}`, admin())
	body := `{"ids":["` + made[0] + `","` + made[1] + `","` + made[2] + `","no-such-ticket"],"action":"resolve"}`
	r := f.do(t, "POST", "/admin/tickets/bulk", "application/json", body, admin())
	var res struct {
		Results []struct {
			ID    string
			OK    bool
			Error *struct{ Status int }
		}
		Succeeded, Failed int
	}
	if err := json.Unmarshal(r.body, &res); err != nil || r.status != 200 {
		t.Fatalf("bulk = %d %s", r.status, r.body)
	}
	if res.Succeeded != 2 || res.Failed != 2 || res.Results[2].Error == nil || res.Results[2].Error.Status != 409 || res.Results[3].Error.Status != 404 {
		t.Errorf("bulk results = %s, want 2 resolved, one 409 (already), one 404", r.body)
	}
	for _, bad := range []string{`{"ids":[],"action":"resolve"}`, `{"ids":["a"],"action":"delete"}`, `{"ids":["a","a"],"action":"resolve"}`} {
		if r := f.do(t, "POST", "/admin/tickets/bulk", "application/json", bad, admin()); r.status != 400 {
			t.Errorf("bulk %s = %d, want 400", bad, r.status)
		}
	}
	if r := f.do(t, "POST", "/admin/tickets/bulk", "application/json", body, nil); r.status != 401 {
		t.Errorf("bulk without the token = %d, want 401", r.status)
	}
}

func TestRetryNotification(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	if r := f.do(t, "POST", "/admin/tickets/"+tk.ID+"/retry-notification", "", "", admin()); r.status != 409 {
		t.Errorf("retry of a pending notification = %d, want 409", r.status)
	}
	f.store.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error { return x.FailDelivery("e", "test", time.Now()) })
	before := f.starter.count()
	r = f.do(t, "POST", "/admin/tickets/"+tk.ID+"/retry-notification", "", "", admin())
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"status":"PENDING"`)) || f.starter.count() != before+1 {
		t.Errorf("retry of a failed notification = %d %s (%d starts), want PENDING and the workflow started", r.status, r.body, f.starter.count()-before)
	}
}

func TestEventsAfterCloseDoNotPanic(t *testing.T) {
	e := api.NewEvents(2)
	e.Ticket(&ticket.Ticket{ID: "a"}, true)
	e.Close()
	e.Ticket(&ticket.Ticket{ID: "b"}, false) // the store may still commit during shutdown
	e.Close()
}

func TestEventsRingResumes(t *testing.T) {
	e := api.NewEvents(3)
	for _, id := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		e.Ticket(&ticket.Ticket{ID: id}, true)
	}
	// Kept: events 5, 6, 7.
	got := func(from uint64) (ids []uint64, gone bool) {
		evs, g, _, _ := api.EventsSince(e, from)
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		return ids, g
	}
	for _, tc := range []struct {
		from uint64
		want string
		gone bool
	}{{4, "[5 6 7]", false}, {5, "[6 7]", false}, {7, "[]", false}, {9, "[]", false}, {2, "[5 6 7]", true}} {
		ids, gone := got(tc.from)
		if fmt.Sprint(ids) != tc.want && !(tc.want == "[]" && len(ids) == 0) || gone != tc.gone {
			t.Errorf("since(%d) = %v gone %v, want %s gone %v", tc.from, ids, gone, tc.want, tc.gone)
		}
	}
}

// TestStreamsDoNotHoldInFlightSlots: an open live stream gives its in-flight slot back, so a
// few admins watching the queue cannot starve every other request.
func TestStreamsDoNotHoldInFlightSlots(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := api.New(api.Config{Store: sqlite.NewStore(db, []byte("k")), Events: api.NewEvents(0), AdminToken: func(context.Context) (string, error) { return token, nil }})
	srv := httptest.NewServer(api.LimitInFlight(h, 1, nil))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /events = %v, %v", resp, err)
	}
	defer resp.Body.Close()
	r, err := http.Get(srv.URL + "/healthz")
	if err != nil || r.StatusCode != 200 {
		t.Errorf("GET /healthz with a stream open and 1 slot = %v, %v; want 200", r, err)
	}
}
