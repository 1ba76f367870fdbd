package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Store is the ticket.Store of the embedded server.
type Store struct {
	db     *DB
	cursor *ticket.Cursor
	group  groupCommit
}

var _ ticket.Store = (*Store)(nil)

// NewStore returns a Store on db whose paging cursors are sealed with cursorKey.
func NewStore(db *DB, cursorKey []byte) *Store {
	return &Store{db: db, cursor: ticket.NewCursor(cursorKey)}
}

func insertTicket(ctx context.Context, tx *sql.Tx, t *ticket.Ticket) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tickets (id, created_at, updated_at, status, severity, notification_status, version, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, ts(t.CreatedAt), ts(t.UpdatedAt), t.Status, t.Severity, t.Notification.Status, t.Version, string(body))
	if isDuplicate(err) {
		return ticket.Errorf(ticket.ECONFLICT, "A ticket with this ID already exists.")
	}
	return err
}

func getTicket(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (*ticket.Ticket, error) {
	var body []byte
	err := q.QueryRowContext(ctx, `SELECT body FROM tickets WHERE id = ?`, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decode(body)
}

func decode(body []byte) (*ticket.Ticket, error) {
	var t ticket.Ticket
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("decode stored ticket: %w", err)
	}
	return &t, nil
}

// Create implements ticket.Store. Concurrent creates share one transaction and so one fsync
// (group commit): a committer goroutine, started when creates arrive and gone when none wait,
// commits everything queued while the previous commit ran, each create in its own savepoint so
// that one conflict fails only itself. Each caller waits for its own batch only.
func (s *Store) Create(ctx context.Context, t *ticket.Ticket, idem ticket.Idempotency) (*ticket.Ticket, bool, error) {
	req := &createReq{t: t, idem: idem, done: make(chan struct{})}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if !g.committing {
		g.committing = true
		go s.commitQueued()
	}
	g.mu.Unlock()
	select {
	case <-req.done:
		return req.stored, req.replayed, req.err
	case <-ctx.Done():
		// The create may still commit; the caller was not told it did, so a retry with the
		// same Idempotency-Key returns it.
		return nil, false, ctx.Err()
	}
}

// commitQueued commits batches until the queue is empty.
func (s *Store) commitQueued() {
	g := &s.group
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.committing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		s.commitBatch(batch)
	}
}

// groupCommit queues creates while a commit is in progress.
type groupCommit struct {
	mu         sync.Mutex
	queue      []*createReq
	committing bool
}

type createReq struct {
	t        *ticket.Ticket
	idem     ticket.Idempotency
	stored   *ticket.Ticket
	replayed bool
	err      error
	done     chan struct{}
}

// commitBatch writes every request in one transaction and tells each its own outcome.
func (s *Store) commitBatch(batch []*createReq) {
	// Not any one caller's context: a caller that gives up must not fail the others.
	ctx := context.Background()
	err := s.db.tx(ctx, func(tx *sql.Tx) error {
		for _, r := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT create_ticket`); err != nil {
				return err
			}
			r.stored, r.replayed, r.err = create(ctx, tx, r.t, r.idem)
			if r.err != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO create_ticket`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE create_ticket`); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range batch {
		if err != nil {
			r.stored, r.replayed, r.err = nil, false, err
		}
		close(r.done)
	}
}

// create stores one ticket (or finds the one its idempotency key created) inside tx.
func create(ctx context.Context, tx *sql.Tx, t *ticket.Ticket, idem ticket.Idempotency) (*ticket.Ticket, bool, error) {
	if idem.Key != "" {
		var hash, id string
		err := tx.QueryRowContext(ctx, `SELECT hash, ticket_id FROM idempotency_keys WHERE key = ?`, idem.Key).Scan(&hash, &id)
		switch {
		case err == nil && hash != idem.Hash:
			return nil, false, ticket.Errorf(ticket.ECONFLICT, "This Idempotency-Key was already used with a different request.")
		case err == nil:
			prev, err := getTicket(ctx, tx, id)
			return prev, err == nil, err
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, err
		}
	}
	if err := insertTicket(ctx, tx, t); err != nil {
		return nil, false, err
	}
	if idem.Key != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, hash, ticket_id, created_at) VALUES (?, ?, ?, ?)`,
			idem.Key, idem.Hash, t.ID, ts(t.CreatedAt)); err != nil {
			return nil, false, err
		}
	}
	return t, false, nil
}

// Get implements ticket.Store.
func (s *Store) Get(ctx context.Context, id string) (*ticket.Ticket, error) {
	return getTicket(ctx, s.db.db, id)
}

type position struct {
	CreatedAt string `json:"c"`
	ID        string `json:"i"`
}

// List implements ticket.Store: newest first across pages, keyset-paginated.
func (s *Store) List(ctx context.Context, f ticket.Filter) (ticket.Page, error) {
	limit := f.PageSize()
	var (
		where []string
		args  []any
	)
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Severity != "" {
		where, args = append(where, "severity = ?"), append(args, f.Severity)
	}
	if f.Cursor != "" {
		var p position
		if err := s.cursor.Decode(f.Cursor, &p); err != nil {
			return ticket.Page{}, err
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, p.CreatedAt, p.CreatedAt, p.ID)
	}
	q := `SELECT created_at, body FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return ticket.Page{}, err
	}
	defer rows.Close()
	page := ticket.Page{Items: []*ticket.Ticket{}}
	var last position
	for rows.Next() {
		var created string
		var body []byte
		if err := rows.Scan(&created, &body); err != nil {
			return ticket.Page{}, err
		}
		if len(page.Items) == limit {
			if page.NextCursor, err = s.cursor.Encode(last); err != nil {
				return ticket.Page{}, err
			}
			break
		}
		t, err := decode(body)
		if err != nil {
			return ticket.Page{}, err
		}
		page.Items = append(page.Items, t)
		last = position{CreatedAt: created, ID: t.ID}
	}
	return page, rows.Err()
}

// Update implements ticket.Store. The write transaction serializes writers, so fn runs once.
func (s *Store) Update(ctx context.Context, id string, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	var out *ticket.Ticket
	err := s.db.tx(ctx, func(tx *sql.Tx) error {
		t, err := getTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		t.Version++
		if now := s.db.now().UTC(); now.After(t.UpdatedAt) {
			t.UpdatedAt = now
		}
		body, err := json.Marshal(t)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tickets SET updated_at = ?, status = ?, severity = ?, notification_status = ?, version = ?, body = ? WHERE id = ?`,
			ts(t.UpdatedAt), t.Status, t.Severity, t.Notification.Status, t.Version, string(body), id)
		out = t
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Pending implements ticket.Store through the partial index on PENDING tickets.
func (s *Store) Pending(ctx context.Context, before time.Time, limit int) ([]*ticket.Ticket, error) {
	rows, err := s.db.db.QueryContext(ctx, `SELECT body FROM tickets WHERE notification_status = 'PENDING' AND updated_at < ? ORDER BY updated_at LIMIT ?`, ts(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ticket.Ticket
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		t, err := decode(body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Stats implements ticket.Store.
func (s *Store) Stats(ctx context.Context) (ticket.Stats, error) {
	st := ticket.NewStats()
	rows, err := s.db.db.QueryContext(ctx, `SELECT status, severity, notification_status, COUNT(*) FROM tickets GROUP BY 1, 2, 3`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var status, sev, ns string
		var n int
		if err := rows.Scan(&status, &sev, &ns, &n); err != nil {
			return st, err
		}
		st.Total += n
		st.ByStatus[ticket.Status(status)] += n
		st.BySeverity[ticket.Severity(sev)] += n
		st.ByNotification[ticket.NotificationStatus(ns)] += n
	}
	return st, rows.Err()
}
