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
	// Changed, when set, is told of every ticket created (true) or changed, once committed
	// (the live feed of the admin console). It runs in the writer: it must not block.
	Changed func(t *ticket.Ticket, created bool)
	// recent holds the tickets written lately, as committed, so that the next change to one
	// (a workflow changes a ticket several times within moments) need not read and decode it
	// again. Only the writer goroutine touches it.
	recent map[string]*ticket.Ticket
}

// recentSize bounds Store.recent.
const recentSize = 4096

// stagedTicket keys a ticket written in the current batch (see Tx.Stage).
type stagedTicket string

// load returns the ticket as the writes before this one left it: staged in this batch,
// remembered from a recent one, or read from the database. The caller gets its own copy.
func (s *Store) load(tx *Tx, id string) (*ticket.Ticket, error) {
	if v, ok := tx.Staged(stagedTicket(id)); ok {
		return v.(*ticket.Ticket).Clone(), nil
	}
	if t, ok := s.recent[id]; ok {
		return t.Clone(), nil
	}
	return scanTicket(tx.QueryRow(selectTicket, id), id)
}

// remember stages t as written in this batch; once the batch commits, it is recent (and
// Changed is told).
func (s *Store) remember(tx *Tx, t *ticket.Ticket, created bool) {
	first := true
	if _, ok := tx.Staged(stagedTicket(t.ID)); ok {
		first = false
	}
	tx.Stage(stagedTicket(t.ID), t.Clone())
	if !first {
		return
	}
	id := t.ID
	tx.OnCommit(func(staged map[any]any) {
		if s.Changed != nil {
			s.Changed(staged[stagedTicket(id)].(*ticket.Ticket), created)
		}
		if s.recent == nil {
			s.recent = make(map[string]*ticket.Ticket, recentSize)
		}
		if _, ok := s.recent[id]; !ok && len(s.recent) >= recentSize {
			for k := range s.recent { // a random one: map order
				delete(s.recent, k)
				break
			}
		}
		s.recent[id] = staged[stagedTicket(id)].(*ticket.Ticket)
	})
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
	var rowid int64
	err = tx.QueryRow(`INSERT INTO tickets (id, created_at, updated_at, status, severity, notification_status, version, body, zbody, category) VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?) RETURNING rowid`,
		t.ID, ts(t.CreatedAt), ts(t.UpdatedAt), t.Status, t.Severity, t.Notification.Status, t.Version, pack(body), strings.ToLower(t.Category)).Scan(&rowid)
	if isDuplicate(err) {
		return ticket.Errorf(ticket.ECONFLICT, "A ticket with this ID already exists.")
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT INTO tickets_fts (rowid, text) VALUES (?, ?)`, rowid, ticket.SearchText(t))
	return err
}

// ticketBody is a ticket's stored JSON: compressed in zbody, or as text in body from before.
const ticketBody = `coalesce(zbody, body)`

const selectTicket = `SELECT ` + ticketBody + ` FROM tickets WHERE id = ?`

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

func decode(stored []byte, id string) (*ticket.Ticket, error) {
	body, err := unpack(stored)
	if err != nil {
		return nil, fmt.Errorf("decode stored ticket %s: %w", id, err)
	}
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
	// Durable: the 201 waits for the fsync. One INSERT needs no savepoint; the ticket and its
	// idempotency key go together or not at all.
	err = s.db.writeDurable(ctx, func(tx *Tx) error {
		stored, replayed, err = s.create(tx, t, idem)
		return err
	}, idem.Key == "")
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
			return nil, false, ticket.ErrIdempotencyKeyReused
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

func (s *Store) create(tx *Tx, t *ticket.Ticket, idem ticket.Idempotency) (*ticket.Ticket, bool, error) {
	stored, replayed, err := create(tx, t, idem)
	if err == nil && !replayed {
		if err := indexIntake(tx, intakeState{}, stored); err != nil {
			return nil, false, err
		}
		s.remember(tx, stored, true)
		count(tx, nil, stored)
	}
	return stored, replayed, err
}

// countsKey stages the counter changes of a batch.
type countsKey struct{}

// count adds what changing from (nil: a new ticket) to to does to the counters; they are
// written once per batch, last in its transaction.
func count(tx *Tx, from, to *ticket.Ticket) {
	v, _ := tx.Staged(countsKey{})
	deltas, _ := v.(map[string]int)
	if deltas == nil {
		deltas = map[string]int{}
		tx.Stage(countsKey{}, deltas)
		tx.BeforeCommit("counters", func(tx *Tx) error {
			for k, d := range deltas {
				if d == 0 {
					continue
				}
				if _, err := tx.Exec(`INSERT INTO counters (key, n) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET n = n + excluded.n`, k, d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	keys := func(t *ticket.Ticket) []string {
		return []string{"total", "status:" + string(t.Status), "severity:" + string(t.Severity), "notification:" + string(t.Notification.Status)}
	}
	if from != nil {
		for _, k := range keys(from) {
			deltas[k]--
		}
	}
	for _, k := range keys(to) {
		deltas[k]++
	}
}

// Get implements ticket.Store.
func (s *Store) Get(ctx context.Context, id string) (*ticket.Ticket, error) {
	return scanTicket(s.db.queryRow(ctx, selectTicket, id), id)
}

// Update implements ticket.Store. It runs in the writer, which serializes writes, so fn runs
// exactly once, on the ticket as the writes before it left it.
func (s *Store) Update(ctx context.Context, id string, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	var out *ticket.Ticket
	// One UPDATE, after fn has decided: no savepoint needed. Durable unless the caller said
	// it is bookkeeping (ticket.Deferred).
	write := func(ctx context.Context, fn func(*Tx) error) error { return s.db.writeDurable(ctx, fn, true) }
	if ticket.IsDeferred(ctx) {
		write = s.db.writeOne
	}
	err := write(ctx, func(tx *Tx) error {
		t, err := s.load(tx, id)
		if err != nil {
			return err
		}
		out, err = s.update(tx, t, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// update applies fn to t (as loaded in tx) and writes the result with one UPDATE (the intake
// indexes follow, see indexIntake); ErrNoChange returns the ticket as stored.
func (s *Store) update(tx *Tx, t *ticket.Ticket, fn func(*ticket.Ticket) error) (*ticket.Ticket, error) {
	id := t.ID
	before := struct {
		status   ticket.Status
		severity ticket.Severity
		ns       ticket.NotificationStatus
		intake   intakeState
		text     string
	}{t.Status, t.Severity, t.Notification.Status, intakeOf(t), ticket.SearchText(t)}
	if err := fn(t); err != nil {
		if errors.Is(err, ticket.ErrNoChange) {
			// Load again: fn may have changed t before it decided there was nothing to do.
			return s.load(tx, id)
		}
		return nil, err
	}
	t.ID = id
	t.Version++
	if now := s.db.now().UTC(); now.After(t.UpdatedAt) {
		t.UpdatedAt = now
	}
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	if _, err = tx.Exec(`UPDATE tickets SET updated_at = ?, status = ?, severity = ?, notification_status = ?, version = ?, body = '', zbody = ?, category = ? WHERE id = ?`,
		ts(t.UpdatedAt), t.Status, t.Severity, t.Notification.Status, t.Version, pack(body), strings.ToLower(t.Category), id); err != nil {
		return nil, err
	}
	if text := ticket.SearchText(t); text != before.text {
		if _, err := tx.Exec(`UPDATE tickets_fts SET text = ? WHERE rowid = (SELECT rowid FROM tickets WHERE id = ?)`, text, id); err != nil {
			return nil, err
		}
	}
	if err := indexIntake(tx, before.intake, t); err != nil {
		return nil, err
	}
	s.remember(tx, t, false)
	if before.status != t.Status || before.severity != t.Severity || before.ns != t.Notification.Status {
		count(tx, &ticket.Ticket{Status: before.status, Severity: before.severity, Notification: ticket.Notification{Status: before.ns}}, t)
	}
	return t, nil
}

// Pending implements ticket.Store through the partial index on PENDING tickets.
func (s *Store) Pending(ctx context.Context, before time.Time, limit int) ([]*ticket.Ticket, error) {
	rows, err := s.db.query(ctx, `SELECT id, `+ticketBody+` FROM tickets WHERE notification_status = 'PENDING' AND updated_at < ? ORDER BY updated_at LIMIT ?`, ts(before), limit)
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

// Stats implements ticket.Store from the counters kept as tickets change: its cost does not
// grow with the table.
func (s *Store) Stats(ctx context.Context) (ticket.Stats, error) {
	st := ticket.NewStats()
	rows, err := s.db.query(ctx, `SELECT key, n FROM counters`)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return st, err
		}
		kind, v, _ := strings.Cut(key, ":")
		switch kind {
		case "total":
			st.Total = n
		case "status":
			st.ByStatus[ticket.Status(v)] = n
		case "severity":
			st.BySeverity[ticket.Severity(v)] = n
		case "notification":
			st.ByNotification[ticket.NotificationStatus(v)] = n
		}
	}
	return st, rows.Err()
}

// Ping implements the embedded server's health check: a real write.
func (s *Store) Ping(ctx context.Context) error { return s.db.Ping(ctx) }
