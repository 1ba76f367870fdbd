package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Store is the ticket.Store of the embedded server.
type Store struct {
	db     *DB
	cursor *ticket.Cursor
	// Log receives rows that cannot be decoded (they are skipped, not served); nil means
	// slog.Default().
	Log *slog.Logger
}

var _ ticket.Store = (*Store)(nil)

// NewStore returns a Store on db whose paging cursors are sealed with cursorKey.
func NewStore(db *DB, cursorKey []byte) *Store {
	return &Store{db: db, cursor: ticket.NewCursor(cursorKey)}
}

func (s *Store) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func insertTicket(tx *Tx, t *ticket.Ticket) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO tickets (id, created_at, updated_at, status, severity, notification_status, version, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, ts(t.CreatedAt), ts(t.UpdatedAt), t.Status, t.Severity, t.Notification.Status, t.Version, string(body))
	if isDuplicate(err) {
		return ticket.Errorf(ticket.ECONFLICT, "A ticket with this ID already exists.")
	}
	return err
}

const selectTicket = `SELECT body FROM tickets WHERE id = ?`

func scanTicket(row *sql.Row, id string) (*ticket.Ticket, error) {
	var body []byte
	err := row.Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return decode(body, id)
}

func decode(body []byte, id string) (*ticket.Ticket, error) {
	var t ticket.Ticket
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("decode stored ticket %s: %w", id, err)
	}
	if t.Notification.Channels == nil {
		t.Notification.Channels = []ticket.ChannelDelivery{}
	}
	return &t, nil
}

// Create implements ticket.Store. Creates are group-committed with every other write (see
// DB): concurrent creates share one transaction and one fsync.
func (s *Store) Create(ctx context.Context, t *ticket.Ticket, idem ticket.Idempotency) (stored *ticket.Ticket, replayed bool, err error) {
	err = s.db.write(ctx, func(tx *Tx) error {
		stored, replayed, err = create(tx, t, idem)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return stored, replayed, nil
}

// create stores one ticket (or finds the one its idempotency key created) inside tx.
func create(tx *Tx, t *ticket.Ticket, idem ticket.Idempotency) (*ticket.Ticket, bool, error) {
	if idem.Key != "" {
		var hash, id string
		err := tx.QueryRow(`SELECT hash, ticket_id FROM idempotency_keys WHERE key = ?`, idem.Key).Scan(&hash, &id)
		switch {
		case err == nil && hash != idem.Hash:
			return nil, false, ticket.Errorf(ticket.ECONFLICT, "This Idempotency-Key was already used with a different request.")
		case err == nil:
			prev, err := scanTicket(tx.QueryRow(selectTicket, id), id)
			return prev, err == nil, err
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, err
		}
	}
	if err := insertTicket(tx, t); err != nil {
		return nil, false, err
	}
	if idem.Key != "" {
		if _, err := tx.Exec(`INSERT INTO idempotency_keys (key, hash, ticket_id, created_at) VALUES (?, ?, ?, ?)`,
			idem.Key, idem.Hash, t.ID, ts(t.CreatedAt)); err != nil {
			return nil, false, err
		}
	}
	return t, false, nil
}

// Get implements ticket.Store.
func (s *Store) Get(ctx context.Context, id string) (*ticket.Ticket, error) {
	return scanTicket(s.db.queryRow(ctx, selectTicket, id), id)
}

type position struct {
	CreatedAt string `json:"c"`
	ID        string `json:"i"`
}

// List implements ticket.Store: newest first across pages, keyset-paginated. A row that
// cannot be decoded is logged with its ID and skipped: one bad row must not hide the queue.
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
	q := `SELECT id, created_at, body FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.db.query(ctx, q, args...)
	if err != nil {
		return ticket.Page{}, err
	}
	defer rows.Close()
	page := ticket.Page{Items: []*ticket.Ticket{}}
	var last position
	seen := 0
	for rows.Next() {
		var id, created string
		var body []byte
		if err := rows.Scan(&id, &created, &body); err != nil {
			return ticket.Page{}, err
		}
		if seen == limit {
			if page.NextCursor, err = s.cursor.Encode(last); err != nil {
				return ticket.Page{}, err
			}
			break
		}
		seen++
		last = position{CreatedAt: created, ID: id}
		t, err := decode(body, id)
		if err != nil {
			s.log().ErrorContext(ctx, "skipping a ticket that cannot be decoded", "ticketId", id, "err", err)
			continue
		}
		page.Items = append(page.Items, t)
	}
	return page, rows.Err()
}

// Update implements ticket.Store. It runs in the writer, which serializes writes, so fn runs
// exactly once, on the ticket as the writes before it left it.
func (s *Store) Update(ctx context.Context, id string, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	var out *ticket.Ticket
	err := s.db.write(ctx, func(tx *Tx) error {
		t, err := scanTicket(tx.QueryRow(selectTicket, id), id)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			if errors.Is(err, ticket.ErrNoChange) {
				// Read again: fn may have changed t before it decided there was nothing to do.
				out, err = scanTicket(tx.QueryRow(selectTicket, id), id)
				return err
			}
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
		_, err = tx.Exec(`UPDATE tickets SET updated_at = ?, status = ?, severity = ?, notification_status = ?, version = ?, body = ? WHERE id = ?`,
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
	rows, err := s.db.query(ctx, `SELECT id, body FROM tickets WHERE notification_status = 'PENDING' AND updated_at < ? ORDER BY updated_at LIMIT ?`, ts(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ticket.Ticket
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return nil, err
		}
		t, err := decode(body, id)
		if err != nil {
			s.log().ErrorContext(ctx, "skipping a pending ticket that cannot be decoded", "ticketId", id, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Stats implements ticket.Store.
func (s *Store) Stats(ctx context.Context) (ticket.Stats, error) {
	st := ticket.NewStats()
	rows, err := s.db.query(ctx, `SELECT status, severity, notification_status, COUNT(*) FROM tickets GROUP BY 1, 2, 3`)
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

// Ping implements the embedded server's health check: a real write.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
