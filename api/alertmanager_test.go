package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/alertmanagertest"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// TestRealAlertmanager points a real Prometheus Alertmanager at the API twice over, through
// a pagerduty_configs receiver (Events API v2) and a webhook_configs one, and judges by the
// tickets: one per alert group and receiver, none more when Alertmanager notifies again, all
// resolved when the alerts resolve.
func TestRealAlertmanager(t *testing.T) {
	f := newIntakeFixture(t)
	pdID, pdKey := f.integration(t, `{"name":"Alertmanager (PagerDuty receiver)"}`)
	hookID, hookKey := f.integration(t, `{"name":"Alertmanager (webhook receiver)"}`)
	var mu sync.Mutex
	calls := map[string]int{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		f.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	calls0 := func(path string) int { mu.Lock(); defer mu.Unlock(); return calls[path] }

	am := alertmanagertest.Start(t, fmt.Sprintf(`
route:
  receiver: incidents
  group_by: [alertname]
  group_wait: 500ms
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: incidents
    pagerduty_configs:
      - routing_key: %q
        url: %s/v2/enqueue
        send_resolved: true
    webhook_configs:
      - url: %s/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %q
`, pdKey, proxy.URL, proxy.URL, hookKey))

	firing := []alertmanagertest.Alert{
		{Labels: map[string]string{"alertname": "DiskFull", "instance": "db-1", "severity": "critical"}, Annotations: map[string]string{"summary": "Disk full on the databases"}},
		{Labels: map[string]string{"alertname": "DiskFull", "instance": "db-2", "severity": "critical"}, Annotations: map[string]string{"summary": "Disk full on the databases"}},
		{Labels: map[string]string{"alertname": "HighLatency", "instance": "api-1", "severity": "warning"}},
	}
	am.Post(t, firing...)

	bySource := func() map[string][]*ticket.Ticket {
		p, err := f.store.List(context.Background(), ticket.Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]*ticket.Ticket{}
		for _, tk := range p.Items {
			out[tk.Source.IntegrationID] = append(out[tk.Source.IntegrationID], tk)
		}
		return out
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s; tickets %+v, calls %v", what, bySource(), calls)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("one ticket per group from each receiver", func() bool {
		s := bySource()
		return len(s[pdID]) == 2 && len(s[hookID]) == 2
	})
	// Let Alertmanager notify again (repeat_interval 2 s): no new ticket.
	pd0, hook0 := calls0("/v2/enqueue"), calls0("/v1/alertmanager")
	waitFor("re-notifications", func() bool {
		return calls0("/v2/enqueue") >= pd0+2 && calls0("/v1/alertmanager") >= hook0+2
	})
	s := bySource()
	if len(s[pdID]) != 2 || len(s[hookID]) != 2 {
		t.Fatalf("after re-notifications: %d and %d tickets, want 2 and 2 (no duplicates)", len(s[pdID]), len(s[hookID]))
	}
	for _, tk := range s[hookID] {
		if tk.Title == "Disk full on the databases" {
			if len(tk.Alerts) != 2 || tk.Severity != ticket.SeverityCritical {
				t.Errorf("the DiskFull group's webhook ticket lists %d alerts (severity %s), want 2 (critical)", len(tk.Alerts), tk.Severity)
			}
		}
	}
	for _, tk := range s[pdID] {
		if tk.Source.Event == nil || tk.Source.Event.Client != "Alertmanager" {
			t.Errorf("PagerDuty-receiver ticket %q: event %+v, want Alertmanager as the client", tk.Title, tk.Source.Event)
		}
		if tk.Title == "Disk full on the databases" && tk.Severity != ticket.SeverityCritical {
			t.Errorf("severity %s, want critical", tk.Severity)
		}
	}
	if f.starter.count() != 4 {
		t.Errorf("%d notification workflows started, want 4: re-notifications page nobody", f.starter.count())
	}

	// Resolve every alert.
	now := time.Now().UTC()
	for i := range firing {
		firing[i].StartsAt, firing[i].EndsAt = now.Add(-time.Minute), now.Add(-time.Second)
	}
	am.Post(t, firing...)
	waitFor("every ticket resolved", func() bool {
		for _, ts := range bySource() {
			for _, tk := range ts {
				if tk.Status != ticket.StatusResolved {
					return false
				}
			}
		}
		return true
	})
	for _, ts := range bySource() {
		for _, tk := range ts {
			last := tk.Timeline[len(tk.Timeline)-1]
			if last.Type != ticket.EventStatusChanged || last.Actor == nil || last.Actor.Kind != ticket.ActorIntegration {
				t.Errorf("%q: last entry %+v, want resolved by the integration", tk.Title, last)
			}
		}
	}
	if n := f.count(t); n != 4 {
		t.Errorf("%d tickets in all, want 4", n)
	}
}
