// Package outbox is the local notification channel of the embedded server: every message is
// appended as one JSON line to a file and fsynced before Publish returns, so an admin can read
// what was sent (GET /admin/outbox) even with no other channel configured. Concurrent
// publishes share one write and one fsync (group commit).
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
	mu   sync.Mutex // the file
	// f stays open between writes (closed after a failure, reopened by the next write).
	f *os.File

	qmu     sync.Mutex // the queue
	queue   []*pending
	writing bool
}

type pending struct {
	line []byte
	done chan error
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
	p := &pending{line: line, done: make(chan error, 1)}
	o.qmu.Lock()
	o.queue = append(o.queue, p)
	if !o.writing {
		o.writing = true
		go o.flush()
	}
	o.qmu.Unlock()
	return <-p.done
}

// flush appends what is queued, batch after batch, until the queue is empty.
func (o *Outbox) flush() {
	for {
		o.qmu.Lock()
		batch := o.queue
		o.queue = nil
		if len(batch) == 0 {
			o.writing = false
			o.qmu.Unlock()
			return
		}
		o.qmu.Unlock()
		err := o.append(batch)
		for _, p := range batch {
			p.done <- err
		}
	}
}

// append writes the lines of batch and fsyncs once. A failing disk is a TransientError: it
// may recover.
func (o *Outbox) append(batch []*pending) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var buf []byte
	if o.f == nil {
		f, err := os.OpenFile(o.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
		if err != nil {
			return &ticket.TransientError{Err: fmt.Errorf("open outbox: %w", err)}
		}
		o.f = f
	}
	// After a crash mid-write the file may end in a torn line: start on a fresh one so the
	// first entry is not glued to it.
	if st, err := o.f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := o.f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	for _, p := range batch {
		buf = append(append(buf, p.line...), '\n')
	}
	_, werr := o.f.Write(buf)
	serr := o.f.Sync()
	if err := errors.Join(werr, serr); err != nil {
		o.f.Close()
		o.f = nil
		return &ticket.TransientError{Err: fmt.Errorf("write outbox: %w", err)}
	}
	return nil
}

// Close closes the file.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
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
