package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/api"
)

func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5123", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5123", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"}, // same /64, same client
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"not-an-address", "not-an-address"},
	} {
		r := httptest.NewRequest("POST", "/ticket", nil)
		r.RemoteAddr = tc.remote
		if got := api.ClientAddr(r); got != tc.want {
			t.Errorf("ClientAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func TestThrottleForgetsIdleClientsAndBoundsMemory(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	th := api.NewThrottle(api.ThrottleConfig{ClientRate: 1, ClientBurst: 1, MaxClients: 3, Now: func() time.Time { return now }})
	for _, c := range []string{"a", "b", "c"} {
		if ok, _, _ := th.Allow(c); !ok {
			t.Fatalf("first ticket of %s refused", c)
		}
	}
	// Every slot is busy: a new address shares the overflow bucket with the next one.
	if ok, _, _ := th.Allow("d"); !ok {
		t.Fatal("d refused: the overflow bucket starts full")
	}
	if ok, perClient, wait := th.Allow("e"); ok || !perClient || wait != time.Second {
		t.Errorf("e while the table is full = %v %v %s, want refused by the shared bucket for 1s", ok, perClient, wait)
	}
	// Once the others have refilled they are forgotten and e gets its own bucket.
	now = now.Add(2 * time.Second)
	if ok, _, _ := th.Allow("e"); !ok {
		t.Error("e refused after the idle clients were forgotten")
	}
	if ok, _, _ := th.Allow("e"); ok {
		t.Error("e's own bucket did not limit it")
	}
	if api.NewThrottle(api.ThrottleConfig{}) != nil {
		t.Error("a throttle with both rates 0 is not nil")
	}
}

// TestThrottleUsesTheConnectionAddress: with the default ClientAddr, the client is who
// connected (127.0.0.1 here), not what a header claims.
func TestThrottleUsesTheConnectionAddress(t *testing.T) {
	f := newFixture(t, func(c *api.Config) {
		c.CreateLimit = api.NewThrottle(api.ThrottleConfig{ClientRate: 0.001, ClientBurst: 1})
	})
	if r := f.do(t, "POST", "/ticket", "application/json", valid, nil); r.status != 201 {
		t.Fatalf("first POST = %d", r.status)
	}
	r := f.do(t, "POST", "/ticket", "application/json", valid, map[string]string{"X-Forwarded-For": "198.51.100.9", "X-Real-Ip": "198.51.100.9"})
	if r.status != http.StatusTooManyRequests {
		t.Errorf("POST claiming another address = %d, want 429 (forwarding headers are not trusted)", r.status)
	}
}

func TestLimitInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.Write([]byte("done"))
	})
	srv := httptest.NewServer(api.LimitInFlight(slow, 2, nil))
	defer srv.Close()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get(srv.URL); err == nil {
				resp.Body.Close()
			}
		}()
	}
	<-entered
	<-entered
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var p api.Problem
	json.NewDecoder(resp.Body).Decode(&p)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Content-Type") != "application/problem+json" || p.Status != 503 || p.RequestID == "" {
		t.Errorf("third request in flight = %d Retry-After %q %+v, want a 503 problem with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), p)
	}
	close(release)
	wg.Wait()
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the burst = %d, want 200 (slots given back)", resp.StatusCode)
	}
}
