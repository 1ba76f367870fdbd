// Package outbox is the local notification channel of the embedded server: every message is
// appended as one JSON line to a file and fsynced before Publish returns, so an admin can read
// what was sent (GET /admin/outbox) even with no other channel configured.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Entry is one delivered message.
type Entry struct {
	ID      string    `json:"id"`
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
	ticket.Message
}

// Outbox appends messages to a JSON-lines file.
type Outbox struct {
	path string
	now  func() time.Time
	mu   sync.Mutex
}

var _ ticket.Publisher = (*Outbox)(nil)

// New returns the outbox kept in the file at path (created on first Publish).
func New(path string, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{path: path, now: now}
}

// Channel implements ticket.Publisher.
func (o *Outbox) Channel() string { return "outbox" }

// Publish implements ticket.Publisher. A failing disk is a TransientError: it may recover.
func (o *Outbox) Publish(ctx context.Context, m ticket.Message) error {
	line, err := json.Marshal(Entry{ID: uuid.NewString(), Channel: o.Channel(), At: o.now().UTC(), Message: m})
	if err != nil {
		return &ticket.PermanentError{Err: err}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return &ticket.TransientError{Err: fmt.Errorf("open outbox: %w", err)}
	}
	// After a crash mid-write the file may end in a torn line: start on a fresh one so this
	// entry is not glued to it.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	_, werr := f.Write(append(line, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return &ticket.TransientError{Err: fmt.Errorf("write outbox: %w", err)}
	}
	return nil
}

// List returns up to limit entries, newest first, optionally only those for one ticket. A
// torn last line (a crash mid-write) is skipped.
func (o *Outbox) List(ctx context.Context, ticketID string, limit int) ([]Entry, error) {
	o.mu.Lock()
	data, err := os.ReadFile(o.path)
	o.mu.Unlock()
	if errors.Is(err, os.ErrNotExist) {
		return []Entry{}, nil
	}
	if err != nil {
		return nil, err
	}
	var all []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if ticketID == "" || e.TicketID == ticketID {
			all = append(all, e)
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	out := make([]Entry, 0, min(limit, len(all)))
	for i := len(all) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, all[i])
	}
	return out, nil
}
