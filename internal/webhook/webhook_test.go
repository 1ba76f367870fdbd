package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/publishertest"
	"github.com/incidentmanager/incidents/internal/webhook"
)

// receiver is a webhook endpoint that records what it accepted and fails on demand.
type receiver struct {
	mu    sync.Mutex
	got   []ticket.Message
	fail  []int
	bodys []map[string]any
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fail) > 0 {
		code := r.fail[0]
		r.fail = r.fail[1:]
		w.WriteHeader(code)
		return
	}
	var p webhook.Payload
	raw := map[string]any{}
	b := new(strings.Builder)
	json.NewDecoder(req.Body).Decode(&raw)
	enc, _ := json.Marshal(raw)
	b.Write(enc)
	if err := json.Unmarshal(enc, &p); err != nil || req.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.bodys = append(r.bodys, raw)
	r.got = append(r.got, ticket.Message{TicketID: p.TicketID, Subject: p.Subject, Body: p.Body, Severity: p.Severity})
}

func TestPublisherContract(t *testing.T) {
	publishertest.Run(t, func(t *testing.T) publishertest.Harness {
		rcv := &receiver{}
		srv := httptest.NewServer(rcv)
		t.Cleanup(srv.Close)
		return publishertest.Harness{
			Publisher: webhook.New(srv.URL+"/hooks/abc?token=secret", nil),
			Delivered: func(t *testing.T) []ticket.Message {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				return append([]ticket.Message(nil), rcv.got...)
			},
			FailNext: func(f publishertest.Failure) {
				rcv.mu.Lock()
				defer rcv.mu.Unlock()
				if f == publishertest.FailServer {
					rcv.fail = append(rcv.fail, http.StatusServiceUnavailable)
				} else {
					rcv.fail = append(rcv.fail, http.StatusBadRequest)
				}
			},
		}
	})
}

func TestSlackShapeAndChannelName(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	p := webhook.New(srv.URL+"/services/T0/B0/abc?token=secret", nil)
	if got := p.Channel(); strings.Contains(got, "secret") || strings.Contains(got, "abc") || !strings.HasPrefix(got, "webhook:127.0.0.1") {
		t.Errorf("Channel() = %q, want the host without the path or query (they hold secrets)", got)
	}
	if other := webhook.New(srv.URL+"/hooks/abd?token=secret", nil).Channel(); other == p.Channel() {
		t.Errorf("two webhooks on one host share the channel name %q", other)
	}
	if err := p.Publish(context.Background(), publishertest.Message()); err != nil {
		t.Fatal(err)
	}
	body := rcv.bodys[0]
	if body["text"] != publishertest.Message().Subject {
		t.Errorf("text = %v, want the subject (Slack's fallback text)", body["text"])
	}
	if blocks, _ := body["blocks"].([]any); len(blocks) != 2 {
		t.Errorf("blocks = %v, want a header and a section", body["blocks"])
	}
}

func TestTransientFailures(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	defer hang.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	ln.Close()
	for _, tc := range []struct {
		name string
		url  string
		code int
	}{
		{"RefusedIsTransient", refused, 0},
		{"TooManyRequestsIsTransient", "", http.StatusTooManyRequests},
		{"BadGatewayIsTransient", "", http.StatusBadGateway},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url
			if url == "" {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.code) }))
				defer srv.Close()
				url = srv.URL
			}
			err := webhook.New(url, &http.Client{Timeout: 200 * time.Millisecond}).Publish(context.Background(), publishertest.Message())
			if !ticket.IsTransient(err) {
				t.Errorf("Publish = %T %v, want a TransientError", err, err)
			}
		})
	}
	t.Run("NoAnswerAfterSendingIsNotRetried", func(t *testing.T) {
		err := webhook.New(hang.URL, &http.Client{Timeout: 200 * time.Millisecond}).Publish(context.Background(), publishertest.Message())
		var pe *ticket.PermanentError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "may have arrived") {
			t.Errorf("Publish to a receiver that never answers = %T %v, want a PermanentError (it may have arrived)", err, err)
		}
	})
	t.Run("NotHTTPIsPermanent", func(t *testing.T) {
		err := webhook.New("ftp://example.com/x", nil).Publish(context.Background(), publishertest.Message())
		var pe *ticket.PermanentError
		if !errors.As(err, &pe) {
			t.Errorf("Publish(ftp://) = %T %v, want a PermanentError", err, err)
		}
	})
}

func TestChannels(t *testing.T) {
	base := &receiver{}
	srv := httptest.NewServer(base)
	defer srv.Close()
	primary := webhook.New(srv.URL+"/primary", nil)
	chans := webhook.Channels(nil, primary)(ticket.Config{Webhooks: []string{srv.URL + "/a", srv.URL + "/b"}})
	if len(chans) != 3 || chans[0] != ticket.Publisher(primary) {
		t.Fatalf("Channels = %d channels, want the base first and one per webhook", len(chans))
	}
	if chans[1].Channel() == chans[2].Channel() {
		t.Errorf("two webhooks share the channel name %s", chans[1].Channel())
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", code)
			}))
			defer redirect.Close()
			for _, client := range []*http.Client{nil, {Timeout: time.Second}} {
				err := webhook.New(redirect.URL, client).Publish(context.Background(), publishertest.Message())
				var pe *ticket.PermanentError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), "redirects are not followed") {
					t.Errorf("Publish answered %d = %T %v, want a PermanentError saying redirects are not followed", code, err, err)
				}
			}
		})
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("the redirect target was sent %d requests, want none", n)
	}
}

func TestRetryAfterAndDeliveryID(t *testing.T) {
	var gotKey string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("Idempotency-Key")
		w.Header().Set("Retry-After", r.URL.Query().Get("after"))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	m := publishertest.Message()
	m.DeliveryID = "t-1.abcdef"
	for _, tc := range []struct {
		after string
		want  time.Duration
	}{
		{"7", 7 * time.Second},
		{"", 0},
		{"soon", 0},
		{"999999", webhook.MaxRetryAfter},
		{time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 90 * time.Second},
	} {
		err := webhook.New(srv.URL+"?after="+url.QueryEscape(tc.after), nil).Publish(context.Background(), m)
		var te *ticket.TransientError
		if !errors.As(err, &te) {
			t.Fatalf("429: %T %v, want a TransientError", err, err)
		}
		if d := te.RetryAfter - tc.want; d < -2*time.Second || d > 2*time.Second {
			t.Errorf("Retry-After %q → %s, want about %s", tc.after, te.RetryAfter, tc.want)
		}
	}
	if gotKey != "t-1.abcdef" {
		t.Errorf("Idempotency-Key = %q, want the delivery ID", gotKey)
	}
}
