package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Events is the live feed of the queue: GET /events streams Server-Sent Events, one "ticket"
// event each time a ticket is created or changed (by a person or by the workflow), so the
// admin console updates without polling. Each event has an increasing ID; a client that
// reconnects with Last-Event-ID gets what it missed, or a "reset" event when that is older
// than what is kept (it then reloads). On AWS, where a Lambda cannot hold a stream, the web
// app polls GET /ticket?updatedSince= instead.
type Events struct {
	streams chan struct{} // one slot per open stream
	mu      sync.Mutex
	ring    []Event
	next    uint64 // ID of the next event
	wake    chan struct{}
	keep    int
	closed  bool
}

// Event is one entry of the feed.
type Event struct {
	ID   uint64
	Type string
	Data json.RawMessage
}

// TicketEvent is the data of a "ticket" event: enough to update a row and decide whether to
// fetch the ticket, nothing the reporter wrote.
type TicketEvent struct {
	ID           string                    `json:"id"`
	Version      int                       `json:"version"`
	Created      bool                      `json:"created"`
	Status       ticket.Status             `json:"status"`
	Severity     ticket.Severity           `json:"severity"`
	Notification ticket.NotificationStatus `json:"notification"`
	UpdatedAt    time.Time                 `json:"updatedAt"`
}

// NewEvents returns a feed keeping the last keep events for reconnecting clients.
func NewEvents(keep int) *Events {
	if keep <= 0 {
		keep = 1024
	}
	return &Events{next: 1, wake: make(chan struct{}), keep: keep, streams: make(chan struct{}, MaxStreams)}
}

// Ticket publishes a ticket's creation or change. It never blocks: the store calls it from its
// writer.
func (e *Events) Ticket(t *ticket.Ticket, created bool) {
	b, err := json.Marshal(TicketEvent{ID: t.ID, Version: t.Version, Created: created, Status: t.Status, Severity: t.Severity, Notification: t.Notification.Status, UpdatedAt: t.UpdatedAt})
	if err != nil {
		return
	}
	e.publish("ticket", b)
}

func (e *Events) publish(typ string, data json.RawMessage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.ring = append(e.ring, Event{ID: e.next, Type: typ, Data: data})
	e.next++
	if len(e.ring) >= 2*e.keep {
		// Trim in one copy once the slice has doubled: amortized O(1) per event.
		e.ring = append(e.ring[:0:0], e.ring[len(e.ring)-e.keep:]...)
	}
	close(e.wake)
	e.wake = make(chan struct{})
}

// Close ends every stream.
func (e *Events) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.wake)
	}
}

// since returns the events after id, whether id is too old to resume from, and a channel
// closed at the next event.
func (e *Events) since(id uint64) (events []Event, gone bool, wake <-chan struct{}, closed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ring := e.ring
	if len(ring) > e.keep {
		ring = ring[len(ring)-e.keep:]
	}
	if len(ring) > 0 && id+1 < ring[0].ID {
		gone = true
	}
	// IDs are consecutive: the events after id start at a known place.
	if len(ring) > 0 && id >= ring[0].ID {
		ring = ring[min(int(id-ring[0].ID+1), len(ring)):]
	}
	events = append(events, ring...)
	return events, gone, e.wake, e.closed
}

// last is the ID of the newest event (0: none).
func (e *Events) last() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.next - 1
}

// MaxStreams bounds the live streams open at once (each holds a connection and a goroutine);
// beyond it GET /events answers 503 and the web app falls back to polling.
const MaxStreams = 256

// eventsHeartbeat keeps proxies from closing an idle stream.
const eventsHeartbeat = 15 * time.Second

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if s.Events == nil {
		s.fail(w, r, ticket.Errorf(ticket.ENOTFOUND, "There is no live feed here; poll GET /ticket?updatedSince= instead."))
		return
	}
	from := s.Events.last() // a new client starts from now
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.problem(w, r, http.StatusBadRequest, "Last-Event-ID must be the ID of an event of this feed.", nil)
			return
		}
		from = n
	}
	select {
	case s.Events.streams <- struct{}{}:
		defer func() { <-s.Events.streams }()
	default:
		w.Header().Set("Retry-After", "10")
		s.problem(w, r, http.StatusServiceUnavailable, "Too many live streams are open; poll instead, or try again later.", nil)
		return
	}
	// A stream is bounded by the slot above, not by the requests-in-flight limit.
	releaseSlot(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(format string, args ...any) bool {
		// A stream lives longer than the server's write timeout: extend it for each write.
		rc.SetWriteDeadline(time.Now().Add(eventsHeartbeat + 10*time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 2000\n: connected\n\n") {
		return
	}
	heartbeat := time.NewTicker(eventsHeartbeat)
	defer heartbeat.Stop()
	for {
		events, gone, wake, closed := s.Events.since(from)
		if gone {
			// Missed more than is kept: the client reloads, then follows on from here.
			from = s.Events.last()
			if !write("id: %d\nevent: reset\ndata: {}\n\n", from) {
				return
			}
			continue
		}
		for _, ev := range events {
			if !write("id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data) {
				return
			}
			from = ev.ID
		}
		if closed {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		case <-heartbeat.C:
			if !write(": keep-alive\n\n") {
				return
			}
		}
	}
}
