// Package webhook delivers notifications as Slack-compatible JSON POSTs (incoming-webhook
// format: a "text" fallback plus "blocks"), which Slack, Mattermost, Rocket.Chat and most chat
// tools accept.
//
// Only a 2xx answer is success. What may pass is transient: 5xx, 408, 429 (with the
// receiver's Retry-After), and failures before the request was sent (refused, DNS, connect
// timeout). What cannot is permanent: other 4xx, and redirects, which are not followed (a
// redirected POST arrives as an empty GET, or carries the reporter's details to another host).
// A request that was sent but not answered in time may have arrived: it is not sent again, so
// that a slow receiver does not get the same notification twice. Every request carries the
// notification's delivery ID (Idempotency-Key), the same on every retry.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Publisher posts to one webhook URL.
type Publisher struct {
	url    string
	client *http.Client
}

var _ ticket.Publisher = (*Publisher)(nil)

// DefaultTimeout bounds one POST, answer included: well inside the Publish task's timeout
// (25 s), so an attempt never times out with a request still in flight and a retry on its
// heels.
const DefaultTimeout = 10 * time.Second

// MaxRetryAfter caps the wait a receiver may ask for; the workflow waits at most what fits
// in its own time limit anyway.
const MaxRetryAfter = 5 * time.Minute

// transport is shared by every webhook: connections to a receiver are kept and reused (the
// default transport keeps 2 per host, so a burst would open and close one per notification).
var transport = &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	MaxIdleConns:          512,
	MaxIdleConnsPerHost:   64,
	IdleConnTimeout:       90 * time.Second,
	TLSHandshakeTimeout:   5 * time.Second,
	ExpectContinueTimeout: time.Second,
}

// NewClient returns the HTTP client webhooks are posted with: DefaultTimeout, no redirects,
// kept-alive connections.
func NewClient() *http.Client {
	return &http.Client{Timeout: DefaultTimeout, CheckRedirect: noRedirects, Transport: transport}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// New returns a publisher for rawURL; client nil means NewClient(). Redirects are never
// followed, whatever client is given.
func New(rawURL string, client *http.Client) *Publisher {
	if client == nil {
		client = NewClient()
	} else if client.CheckRedirect == nil {
		c := *client
		c.CheckRedirect = noRedirects
		client = &c
	}
	return &Publisher{url: rawURL, client: client}
}

// Channel implements ticket.Publisher. It names the host and a digest of the whole URL, never
// the path or query: Slack, Mattermost and Discord keep the webhook's secret in the path, and
// channel names end up in tickets, errors and logs.
func (p *Publisher) Channel() string {
	sum := sha256.Sum256([]byte(p.url))
	host := "invalid"
	if u, err := url.Parse(p.url); err == nil && u.Host != "" {
		host = u.Host
	}
	return "webhook:" + host + "#" + hex.EncodeToString(sum[:6])
}

// Publish implements ticket.Publisher.
func (p *Publisher) Publish(ctx context.Context, m ticket.Message) error {
	u, err := url.Parse(p.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ticket.PermanentError{Err: fmt.Errorf("the webhook URL of %s is not an http(s) URL", p.Channel())}
	}
	body, err := json.Marshal(NewPayload(m))
	if err != nil {
		return &ticket.PermanentError{Err: err}
	}
	// Whether the request went out decides what a failure means: before, nothing arrived and
	// a retry is safe; after, it may have arrived.
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent.Store(true) }})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return &ticket.PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "incident-manager")
	if m.DeliveryID != "" {
		req.Header.Set("Idempotency-Key", m.DeliveryID)
		req.Header.Set("X-Incident-Delivery-Id", m.DeliveryID)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if sent.Load() && !errors.Is(err, context.Canceled) {
			return &ticket.PermanentError{Err: fmt.Errorf("no answer after the notification was sent (%v); it may have arrived, so it is not sent again", redact(err))}
		}
		// Refused, reset before sending, DNS, connect timeouts, a canceled context: maybe next time.
		return &ticket.TransientError{Err: fmt.Errorf("POST: %w", redact(err))}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code >= 300 && code < 400:
		return &ticket.PermanentError{Err: fmt.Errorf("HTTP %s: redirects are not followed; configure the webhook's final URL", resp.Status)}
	case code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		return &ticket.TransientError{Err: fmt.Errorf("HTTP %s", resp.Status), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return &ticket.PermanentError{Err: fmt.Errorf("HTTP %s", resp.Status)}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped at MaxRetryAfter;
// 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// Channels returns the channels for a configuration: base (the outbox, or the SNS topic) plus
// one Publisher per configured webhook, all posting through client (nil: NewClient()).
func Channels(client *http.Client, base ...ticket.Publisher) func(ticket.Config) []ticket.Publisher {
	return func(c ticket.Config) []ticket.Publisher {
		chans := append([]ticket.Publisher(nil), base...)
		for _, u := range c.Webhooks {
			chans = append(chans, New(u, client))
		}
		return chans
	}
}

// redact keeps the full URL (and any token in its query) out of error messages that end up in
// the ticket's lastError.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
