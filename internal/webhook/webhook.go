// Package webhook delivers notifications as Slack-compatible JSON POSTs (incoming-webhook
// format: a "text" fallback plus "blocks"), which Slack, Mattermost, Rocket.Chat and most chat
// tools accept. 5xx, 429, timeouts and refused connections are transient; other 4xx are
// permanent.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Publisher posts to one webhook URL.
type Publisher struct {
	url    string
	client *http.Client
}

var _ ticket.Publisher = (*Publisher)(nil)

// DefaultTimeout bounds one POST when New is given a nil client; it keeps a hanging endpoint
// well inside the Publish task's timeout.
const DefaultTimeout = 5 * time.Second

// New returns a publisher for rawURL; client nil means one with DefaultTimeout.
func New(rawURL string, client *http.Client) *Publisher {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return &ticket.PermanentError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "incident-manager")
	resp, err := p.client.Do(req)
	if err != nil {
		// Timeouts, refused connections, resets, DNS and canceled contexts: maybe next time.
		return &ticket.TransientError{Err: fmt.Errorf("POST: %w", redact(err))}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return &ticket.TransientError{Err: fmt.Errorf("HTTP %s", resp.Status)}
	default:
		return &ticket.PermanentError{Err: fmt.Errorf("HTTP %s", resp.Status)}
	}
}

// Channels returns the channels for a configuration: base (the outbox, or the SNS topic) plus
// one Publisher per configured webhook, all posting through client (nil: DefaultTimeout).
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
