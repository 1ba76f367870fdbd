package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// intakeFixture serves the API with the intake routes on one SQLite database.
type intakeFixture struct {
	*fixture
	integrations ticket.IntegrationStore
}

func newIntakeFixture(t *testing.T, opts ...func(*api.Config)) *intakeFixture {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "intake.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := sqlite.NewStore(db, []byte("key"))
	ints := sqlite.NewIntegrations(db)
	f := &intakeFixture{integrations: ints}
	f.fixture = newFixture(t, append([]func(*api.Config){func(c *api.Config) {
		c.Store = store
		c.Integrations = ints
		c.Intake = &intake.Service{Tickets: store, Integrations: ints, Starter: c.Starter, Log: c.Log}
	}}, opts...)...)
	f.store = store
	return f
}

// integration makes one through the admin API and returns its id and key.
func (f *intakeFixture) integration(t *testing.T, body string) (id, key string) {
	t.Helper()
	r := f.do(t, "POST", "/admin/integrations", "application/json", body, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("POST /admin/integrations = %d %s", r.status, r.body)
	}
	var v struct{ ID, Key string }
	json.Unmarshal(r.body, &v)
	if len(v.Key) != ticket.KeyLength {
		t.Fatalf("key %q: want %d characters", v.Key, ticket.KeyLength)
	}
	return v.ID, v.Key
}

type pd struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

func (f *intakeFixture) event(t *testing.T, body string) (int, pd) {
	t.Helper()
	r := f.do(t, "POST", "/v2/enqueue", "application/json", body, nil)
	var out pd
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("POST /v2/enqueue = %d %q: not PagerDuty's JSON: %v", r.status, r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json (PagerDuty's shape, not problem+json)", ct)
	}
	return r.status, out
}

func (f *intakeFixture) only(t *testing.T) *ticket.Ticket {
	t.Helper()
	p, err := f.store.List(context.Background(), ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 {
		t.Fatalf("%d tickets, want 1", len(p.Items))
	}
	return p.Items[0]
}

// PagerDuty's documented examples (Events API v2, "Send an alert event"), each with its
// documented answer.
func TestEventsAPIDocumentedExamples(t *testing.T) {
	f := newIntakeFixture(t)
	id, key := f.integration(t, `{"name":"Prometheus prod"}`)
	trigger := fmt.Sprintf(`{
	  "payload": {
	    "summary": "DISK at 99%% on machine prod-datapipe03.example.com",
	    "timestamp": "2015-07-17T08:42:58.315+0000",
	    "severity": "critical",
	    "source": "prod-datapipe03.example.com",
	    "component": "mysql",
	    "group": "prod-datapipe",
	    "class": "disk",
	    "custom_details": {"free space": "1%%", "ping time": "1500ms", "load avg": 0.75}
	  },
	  "routing_key": %q,
	  "dedup_key": "samplekeyhere",
	  "event_action": "trigger",
	  "links": [{"href": "https://example.com/", "text": "Link text"}],
	  "images": [{"src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png", "href": "https://example.com/", "alt": "Example text"}]
	}`, key)
	t.Run("Trigger", func(t *testing.T) {
		status, out := f.event(t, trigger)
		if status != http.StatusAccepted || out.Status != "success" || out.Message != "Event processed" || out.DedupKey != "samplekeyhere" {
			t.Fatalf("trigger = %d %+v, want 202 success / Event processed / samplekeyhere", status, out)
		}
		tk := f.only(t)
		if tk.Severity != ticket.SeverityCritical || tk.Category != "disk" || tk.Reporter.Name != "Prometheus prod" || tk.Source.IntegrationID != id {
			t.Errorf("ticket %+v: want critical, class as category, the integration as reporter and source", tk)
		}
		if !strings.Contains(tk.Description, "free space") || !strings.Contains(tk.Description, "Link text: https://example.com/") {
			t.Errorf("description %q lacks the custom details or the link", tk.Description)
		}
		if a := tk.Timeline[0].Actor; a == nil || a.Kind != ticket.ActorIntegration || a.ID != id {
			t.Errorf("created entry's actor = %+v, want the integration", a)
		}
		if f.starter.count() != 1 {
			t.Errorf("%d workflows started, want 1", f.starter.count())
		}
	})
	t.Run("TriggerAgainFolds", func(t *testing.T) {
		status, out := f.event(t, trigger)
		if status != http.StatusAccepted || out.DedupKey != "samplekeyhere" {
			t.Fatalf("second trigger = %d %+v", status, out)
		}
		tk := f.only(t)
		if tk.Occurrences != 2 || tk.Timeline[len(tk.Timeline)-1].Type != ticket.EventRetriggered {
			t.Errorf("occurrences %d, last entry %+v; want 2 and a retriggered entry", tk.Occurrences, tk.Timeline[len(tk.Timeline)-1])
		}
		if f.starter.count() != 1 {
			t.Errorf("a fold started a workflow (%d started): it must page nobody", f.starter.count())
		}
	})
	t.Run("Acknowledge", func(t *testing.T) {
		status, out := f.event(t, fmt.Sprintf(`{"routing_key":%q,"dedup_key":"samplekeyhere","event_action":"acknowledge"}`, key))
		if status != http.StatusAccepted || out.Status != "success" || out.DedupKey != "samplekeyhere" {
			t.Fatalf("acknowledge = %d %+v", status, out)
		}
		tk := f.only(t)
		last := tk.Timeline[len(tk.Timeline)-1]
		if tk.Status != ticket.StatusAcknowledged || last.Actor == nil || last.Actor.Kind != ticket.ActorIntegration || last.Actor.Name != "Prometheus prod" {
			t.Errorf("status %s, last entry %+v; want acknowledged by the integration", tk.Status, last)
		}
	})
	t.Run("Resolve", func(t *testing.T) {
		status, out := f.event(t, fmt.Sprintf(`{"routing_key":%q,"dedup_key":"samplekeyhere","event_action":"resolve"}`, key))
		if status != http.StatusAccepted || out.Status != "success" {
			t.Fatalf("resolve = %d %+v", status, out)
		}
		if tk := f.only(t); tk.Status != ticket.StatusResolved {
			t.Errorf("status %s, want resolved", tk.Status)
		}
		// Once resolved, the same key files a new ticket.
		if status, _ := f.event(t, trigger); status != http.StatusAccepted {
			t.Fatal(status)
		}
		if n := f.count(t); n != 2 {
			t.Errorf("%d tickets after a trigger following resolve, want 2", n)
		}
	})
	t.Run("ResolveUnknownKeyIsANoOp", func(t *testing.T) {
		status, out := f.event(t, fmt.Sprintf(`{"routing_key":%q,"dedup_key":"never-seen","event_action":"resolve"}`, key))
		if status != http.StatusAccepted || out.Status != "success" {
			t.Errorf("resolve of nothing = %d %+v, want 202 (PagerDuty accepts it)", status, out)
		}
	})
	t.Run("TriggerWithoutDedupKeyGetsOne", func(t *testing.T) {
		status, out := f.event(t, fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"}}`, key))
		if status != http.StatusAccepted || out.DedupKey == "" {
			t.Errorf("trigger without dedup_key = %d %+v, want 202 with a made-up dedup_key", status, out)
		}
	})
	for _, tc := range []struct {
		name, body, wantErr string
	}{
		{"ErrBadKey", `{"routing_key":"0123456789abcdef0123456789abcdef","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"}}`, "Invalid routing key"},
		{"ErrKeyLength", `{"routing_key":"short","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"}}`, "Length of 'routing_key' is incorrect (should be 32 characters)"},
		{"ErrMissingSummary", fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"source":"y","severity":"info"}}`, key), "'payload.summary' is missing or blank"},
		{"ErrBadSeverity", fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"fatal"}}`, key), "'payload.severity' is invalid (must be one of critical, error, warning, info)"},
		{"ErrBadAction", fmt.Sprintf(`{"routing_key":%q,"event_action":"explode"}`, key), "'event_action' is invalid (must be one of trigger, acknowledge, resolve)"},
		{"ErrAckWithoutDedupKey", fmt.Sprintf(`{"routing_key":%q,"event_action":"acknowledge"}`, key), "'dedup_key' is missing or blank (it is required to acknowledge)"},
		{"ErrNotJSON", `{"routing_key":`, "The request body is not valid JSON"},
		{"ErrTooLarge", fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info","custom_details":{"blob":%q}}}`, key, strings.Repeat("a", intake.MaxEvent)), "Event object is too large (at most 524288 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.count(t)
			status, out := f.event(t, tc.body)
			if status != http.StatusBadRequest || out.Status != "invalid event" || out.Message != "Event object is invalid" {
				t.Errorf("= %d %+v, want 400 invalid event / Event object is invalid", status, out)
			}
			if fmt.Sprint(out.Errors) != fmt.Sprint([]string{tc.wantErr}) {
				t.Errorf("errors %q, want [%q]", out.Errors, tc.wantErr)
			}
			if n := f.count(t); n != before {
				t.Errorf("an invalid event stored a ticket (%d → %d)", before, n)
			}
		})
	}
	t.Run("JustUnder512KiB", func(t *testing.T) {
		head := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"big","payload":{"summary":"big","source":"y","severity":"info","custom_details":{"blob":"`, key)
		tail := `"}}}`
		body := head + strings.Repeat("b", intake.MaxEvent-len(head)-len(tail)) + tail
		if len(body) != intake.MaxEvent {
			t.Fatalf("body is %d bytes", len(body))
		}
		status, out := f.event(t, body)
		if status != http.StatusAccepted {
			t.Fatalf("an event of exactly 512 KiB = %d %+v, want 202", status, out)
		}
		tk, err := f.store.FindOpenByDedupKey(context.Background(), ticket.DedupScope(id, "big"))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(tk.Source.Event.CustomDetails); n > ticket.MaxCustomDetails+200 {
			t.Errorf("kept %d bytes of custom details, want them cut near %d", n, ticket.MaxCustomDetails)
		}
	})
}

func TestEventsAPIThrottlesPerKey(t *testing.T) {
	f := newIntakeFixture(t, func(c *api.Config) { c.EventsRate, c.EventsBurst = rate.Every(time.Hour), 3 })
	_, key := f.integration(t, `{"name":"noisy"}`)
	_, other := f.integration(t, `{"name":"calm"}`)
	ev := func(k string) string {
		return fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"d","payload":{"summary":"x","source":"y","severity":"info"}}`, k)
	}
	for i := 0; i < 3; i++ {
		if status, out := f.event(t, ev(key)); status != http.StatusAccepted {
			t.Fatalf("event %d = %d %+v", i, status, out)
		}
	}
	r := f.do(t, "POST", "/v2/enqueue", "application/json", ev(key), nil)
	var out pd
	json.Unmarshal(r.body, &out)
	if r.status != http.StatusTooManyRequests || out.Status != "throttle event" || r.header.Get("Retry-After") == "" {
		t.Errorf("4th event = %d %s (Retry-After %q), want 429 throttle event with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if status, _ := f.event(t, ev(other)); status != http.StatusAccepted {
		t.Errorf("another key's event = %d, want 202: the limit is per key", status)
	}
}

func TestIntegrationsAdmin(t *testing.T) {
	f := newIntakeFixture(t)
	if r := f.do(t, "POST", "/admin/integrations", "application/json", `{"name":"x"}`, nil); r.status != http.StatusUnauthorized {
		t.Errorf("without the admin token = %d, want 401", r.status)
	}
	r := f.do(t, "POST", "/admin/integrations", "application/json", `{"name":""}`, admin())
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"field":"name"`) {
		t.Errorf("no name = %d %s, want 400 naming the field", r.status, r.body)
	}
	id, key := f.integration(t, `{"name":"Grafana"}`)
	r = f.do(t, "GET", "/admin/integrations", "", "", admin())
	if r.status != 200 || strings.Contains(string(r.body), key) || strings.Contains(string(r.body), ticket.KeyHash(key)) || !strings.Contains(string(r.body), key[len(key)-4:]) {
		t.Errorf("list = %d %s: want the key's hint only, never the key or its hash", r.status, r.body)
	}
	r = f.do(t, "PATCH", "/admin/integrations/"+id, "application/json", `{"name":"Grafana prod"}`, admin())
	if r.status != 200 || !strings.Contains(string(r.body), `"name":"Grafana prod"`) {
		t.Errorf("rename = %d %s", r.status, r.body)
	}
	r = f.do(t, "POST", "/admin/integrations/"+id+"/rotate", "", "", admin())
	var rotated struct{ Key string }
	json.Unmarshal(r.body, &rotated)
	if r.status != 200 || len(rotated.Key) != ticket.KeyLength || rotated.Key == key {
		t.Fatalf("rotate = %d %s, want a new key", r.status, r.body)
	}
	ev := func(k string) string {
		return fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"}}`, k)
	}
	if status, out := f.event(t, ev(key)); status != http.StatusBadRequest || fmt.Sprint(out.Errors) != "[Invalid routing key]" {
		t.Errorf("the old key after rotation = %d %+v, want 400 Invalid routing key", status, out)
	}
	if status, _ := f.event(t, ev(rotated.Key)); status != http.StatusAccepted {
		t.Errorf("the new key = %d, want 202", status)
	}
	if tk := f.only(t); tk.Reporter.Name != "Grafana prod" {
		t.Errorf("ticket reporter %q, want the integration's name", tk.Reporter.Name)
	}
	if r := f.do(t, "DELETE", "/admin/integrations/"+id, "", "", admin()); r.status != http.StatusNoContent {
		t.Errorf("delete = %d %s", r.status, r.body)
	}
	if status, _ := f.event(t, ev(rotated.Key)); status != http.StatusBadRequest {
		t.Errorf("a deleted integration's key = %d, want 400", status)
	}
	if r := f.do(t, "GET", "/admin/integrations/"+id, "", "", admin()); r.status != http.StatusNotFound {
		t.Errorf("get deleted = %d, want 404", r.status)
	}
}

func TestHeartbeatRoute(t *testing.T) {
	f := newIntakeFixture(t)
	_, key := f.integration(t, `{"name":"nightly backup","type":"heartbeat","interval":"1h"}`)
	r := f.do(t, "POST", "/v1/heartbeat/"+key, "", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"state":"up"`) {
		t.Errorf("ping = %d %s, want 200 up", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v1/heartbeat/"+strings.Repeat("0", 32), "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown heartbeat = %d, want 404", r.status)
	}
	_, events := f.integration(t, `{"name":"events"}`)
	if r := f.do(t, "POST", "/v1/heartbeat/"+events, "", "", nil); r.status != http.StatusNotFound {
		t.Errorf("an events key as a heartbeat = %d, want 404", r.status)
	}
}

func TestReplyQueuesReporterMail(t *testing.T) {
	var queued []string
	f := newIntakeFixture(t, func(c *api.Config) {
		c.ReporterMail = true
		c.MailQueued = func(id string) { queued = append(queued, id) }
	})
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	r = f.do(t, "POST", "/admin/tickets/"+tk.ID+"/replies", "application/json", `{"message":"Try restarting the VPN client."}`, admin())
	if r.status != http.StatusCreated {
		t.Fatalf("reply = %d %s", r.status, r.body)
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	var events []string
	for _, m := range got.Mail {
		events = append(events, m.Event+":"+string(m.Status))
	}
	if fmt.Sprint(events) != "[filed:PENDING answered:PENDING]" || len(queued) != 2 {
		t.Errorf("mail %v, told %v; want filed and answered pending, told twice", events, queued)
	}
	if r := f.do(t, "POST", "/admin/tickets/"+tk.ID+"/replies", "application/json", `{"message":"  "}`, admin()); r.status != http.StatusBadRequest {
		t.Errorf("empty reply = %d, want 400", r.status)
	}
	pub := f.do(t, "GET", "/ticket/"+tk.ID, "", "", nil)
	if strings.Contains(string(pub.body), "restarting") && strings.Contains(string(pub.body), `"text"`) {
		t.Errorf("the public view carries the mail's text: %s", pub.body)
	}
}
