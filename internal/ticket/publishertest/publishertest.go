// Package publishertest is the contract every ticket.Publisher implementation must pass. Each
// adapter's tests call Run with a Harness around a real destination (a file, an HTTP server,
// goaws) that can report what arrived and, where the destination allows it, fail on purpose.
package publishertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Failure is a failure a harness can make its destination produce on the next Publish.
type Failure int

const (
	// FailServer: the destination answers with a server error (5xx, throttling).
	FailServer Failure = iota + 1
	// FailRejected: the destination rejects the request (4xx, not found, unauthorized).
	FailRejected
)

// Harness is a publisher under test and its destination.
type Harness struct {
	Publisher ticket.Publisher
	// Delivered returns the messages that reached the destination so far, oldest first.
	Delivered func(t *testing.T) []ticket.Message
	// FailNext makes the next Publish fail as f; nil when the destination cannot fail on
	// demand (the local outbox only fails when its disk does).
	FailNext func(f Failure)
}

// Message returns a notification as the Publish task builds it.
func Message() ticket.Message {
	return ticket.Message{
		TicketID: "0193a6f0-0000-7000-8000-000000000001",
		Subject:  "[Incident] critical: Payroll database down",
		Body:     "Title: Payroll database down\nSeverity: critical\nReporter: Ada\nEmail: ada@example.com\nTicket: 0193a6f0-0000-7000-8000-000000000001\n\nDescription:\n> Ünïcödé ✓ <b>not html</b>\n",
		Severity: ticket.SeverityCritical,
		Link:     "http://127.0.0.1:8080/#/ticket/0193a6f0-0000-7000-8000-000000000001",
		Attrs:    map[string]string{"severity": "critical", "ticketId": "0193a6f0-0000-7000-8000-000000000001"},
	}
}

// Run runs the contract; open returns a fresh harness for each subtest.
func Run(t *testing.T, open func(t *testing.T) Harness) {
	t.Run("Delivers", func(t *testing.T) {
		h := open(t)
		if h.Publisher.Channel() == "" {
			t.Error("Channel() is empty; Notification.Delivered needs a stable name")
		}
		if h.Publisher.Channel() != h.Publisher.Channel() {
			t.Error("Channel() is not stable")
		}
		m := Message()
		if err := h.Publisher.Publish(context.Background(), m); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		got := waitDelivered(t, h, 1)
		if got[0].TicketID != m.TicketID || !strings.Contains(got[0].Body, "Payroll database down") || !strings.Contains(got[0].Body, "Ünïcödé ✓ <b>not html</b>") {
			t.Errorf("delivered %+v, want ticket %s with the body text intact", got[0], m.TicketID)
		}
		if got[0].Subject != m.Subject {
			t.Errorf("delivered subject %q, want %q", got[0].Subject, m.Subject)
		}
	})
	t.Run("DeliversEach", func(t *testing.T) {
		h := open(t)
		for i := 0; i < 3; i++ {
			if err := h.Publisher.Publish(context.Background(), Message()); err != nil {
				t.Fatalf("Publish #%d: %v", i, err)
			}
		}
		waitDelivered(t, h, 3)
	})
	t.Run("ErrCanceledContext", func(t *testing.T) {
		h := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := h.Publisher.Publish(ctx, Message())
		if h.FailNext == nil {
			return // a local file write may finish before it looks at ctx
		}
		if err == nil {
			t.Fatal("Publish with a canceled context succeeded")
		}
		if !ticket.IsTransient(err) {
			t.Errorf("canceled Publish: %T %v, want a TransientError (the next attempt may work)", err, err)
		}
	})
	t.Run("TransientError", func(t *testing.T) {
		h := open(t)
		if h.FailNext == nil {
			t.Log("destination cannot fail on demand")
			return
		}
		h.FailNext(FailServer)
		err := h.Publisher.Publish(context.Background(), Message())
		var te *ticket.TransientError
		if !errors.As(err, &te) {
			t.Fatalf("server error: Publish returned %T %v, want *ticket.TransientError", err, err)
		}
		if err := h.Publisher.Publish(context.Background(), Message()); err != nil {
			t.Fatalf("Publish after a transient failure: %v", err)
		}
		waitDelivered(t, h, 1)
	})
	t.Run("PermanentError", func(t *testing.T) {
		h := open(t)
		if h.FailNext == nil {
			t.Log("destination cannot fail on demand")
			return
		}
		h.FailNext(FailRejected)
		err := h.Publisher.Publish(context.Background(), Message())
		var pe *ticket.PermanentError
		if !errors.As(err, &pe) {
			t.Fatalf("rejected request: Publish returned %T %v, want *ticket.PermanentError", err, err)
		}
		if got := h.Delivered(t); len(got) != 0 {
			t.Errorf("rejected message was delivered: %+v", got)
		}
	})
}

func waitDelivered(t *testing.T, h Harness, n int) []ticket.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := h.Delivered(t)
		if len(got) >= n {
			if len(got) > n {
				t.Errorf("%d messages delivered, want %d", len(got), n)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages delivered after 5s, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
