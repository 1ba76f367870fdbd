package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// The intake tables, made at Open when missing (they need no migration: new tables only).
//
//   - dedup_keys: the open ticket that holds each dedup key; a row lives while its ticket is
//     not resolved (see ticket.DedupStore).
//   - mail_pending: tickets with an email to the reporter still to send.
//   - integrations: one row per integration, whole as JSON, with its key's hash (unique: a
//     key finds one integration) and, for a heartbeat that is up, when its next ping is due.
const intakeSchema = `
CREATE TABLE IF NOT EXISTS dedup_keys (
	key       TEXT PRIMARY KEY,
	ticket_id TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS mail_pending (
	ticket_id TEXT PRIMARY KEY,
	since     TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS mail_pending_since ON mail_pending (since);
CREATE TABLE IF NOT EXISTS integrations (
	id         TEXT PRIMARY KEY,
	key_hash   TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	due_at     TEXT,
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS integrations_due ON integrations (due_at) WHERE due_at IS NOT NULL;
`

// intakeState is what the intake indexes depend on.
type intakeState struct {
	dedup       string
	open        bool
	pendingMail bool
}

func intakeOf(t *ticket.Ticket) intakeState {
	if t == nil {
		return intakeState{}
	}
	return intakeState{dedup: t.DedupKey, open: t.Open(), pendingMail: t.HasPendingMail()}
}

// indexIntake keeps dedup_keys and mail_pending in step with a ticket going from before to t.
// Only a disk failure can make these statements fail (an INSERT ... DO NOTHING, a DELETE),
// and a disk failure fails the whole batch: the writes that use them stay savepoint-free.
func indexIntake(tx *Tx, before intakeState, t *ticket.Ticket) error {
	after := intakeOf(t)
	if after.dedup != "" && (before.dedup != after.dedup || before.open != after.open) {
		var err error
		if after.open {
			// Reopened (or new): take the key back unless another open ticket has it.
			_, err = tx.Exec(`INSERT INTO dedup_keys (key, ticket_id) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, after.dedup, t.ID)
		} else {
			_, err = tx.Exec(`DELETE FROM dedup_keys WHERE key = ? AND ticket_id = ?`, after.dedup, t.ID)
		}
		if err != nil {
			return err
		}
	}
	if before.pendingMail != after.pendingMail {
		var err error
		if after.pendingMail {
			_, err = tx.Exec(`INSERT INTO mail_pending (ticket_id, since) VALUES (?, ?) ON CONFLICT (ticket_id) DO NOTHING`, t.ID, ts(t.UpdatedAt))
		} else {
			_, err = tx.Exec(`DELETE FROM mail_pending WHERE ticket_id = ?`, t.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var _ ticket.DedupStore = (*Store)(nil)

// CreateOrFold implements ticket.DedupStore in one write: the writer serializes writes, so
// two triggers with one key can never both create.
func (s *Store) CreateOrFold(ctx context.Context, t *ticket.Ticket, fold func(*ticket.Ticket) error) (stored *ticket.Ticket, created bool, err error) {
	if t.DedupKey == "" {
		return nil, false, errors.New("sqlite: CreateOrFold needs a ticket with a dedup key")
	}
	err = s.db.writeDurable(ctx, func(tx *Tx) error {
		var id string
		err := tx.QueryRow(`SELECT ticket_id FROM dedup_keys WHERE key = ?`, t.DedupKey).Scan(&id)
		switch {
		case err == nil:
			cur, err := s.load(tx, id)
			if err == nil && cur.Open() && cur.DedupKey == t.DedupKey {
				stored, err = s.update(tx, cur, fold)
				return err
			}
			if err != nil && !errors.Is(err, ticket.ErrNotFound) {
				return err
			}
			// A stale row (its ticket gone or resolved by an older writer): the key is free.
			if _, err := tx.Exec(`DELETE FROM dedup_keys WHERE key = ?`, t.DedupKey); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		stored, _, err = s.create(tx, t, ticket.Idempotency{})
		created = err == nil
		return err
	}, false)
	return stored, created, err
}

// FindOpenByDedupKey implements ticket.DedupStore.
func (s *Store) FindOpenByDedupKey(ctx context.Context, key string) (*ticket.Ticket, error) {
	t, err := scanTicket(s.db.queryRow(ctx, `SELECT `+ticketBody+` FROM tickets WHERE id = (SELECT ticket_id FROM dedup_keys WHERE key = ?)`, key), key)
	if err != nil {
		return nil, err
	}
	if !t.Open() || t.DedupKey != key {
		return nil, ticket.ErrNotFound
	}
	return t, nil
}

// PendingMail implements ticket.DedupStore.
func (s *Store) PendingMail(ctx context.Context, before time.Time, limit int) ([]*ticket.Ticket, error) {
	rows, err := s.db.query(ctx, `SELECT t.id, `+ticketBody+` FROM mail_pending m JOIN tickets t ON t.id = m.ticket_id WHERE t.updated_at < ? ORDER BY m.since LIMIT ?`, ts(before), limit)
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
			s.log().ErrorContext(ctx, "skipping a ticket that cannot be decoded", "ticketId", id, "err", err)
			continue
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Integrations is the ticket.IntegrationStore of the embedded server, in the same database
// and through the same writer as the tickets.
type Integrations struct{ db *DB }

var _ ticket.IntegrationStore = (*Integrations)(nil)

// NewIntegrations returns the integrations kept in db.
func NewIntegrations(db *DB) *Integrations { return &Integrations{db: db} }

func dueAt(i *ticket.Integration) any {
	if i.Heartbeat == nil || i.Heartbeat.State != ticket.HeartbeatUp {
		return nil
	}
	return ts(i.Heartbeat.DueAt)
}

// CreateIntegration implements ticket.IntegrationStore.
func (x *Integrations) CreateIntegration(ctx context.Context, i *ticket.Integration) error {
	body, err := json.Marshal(i)
	if err != nil {
		return err
	}
	return x.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO integrations (id, key_hash, created_at, due_at, version, body) VALUES (?, ?, ?, ?, ?, ?)`,
			i.ID, i.KeyHash, ts(i.CreatedAt), dueAt(i), i.Version, string(body))
		if isDuplicate(err) {
			return ticket.Errorf(ticket.ECONFLICT, "An integration with this ID or key already exists.")
		}
		return err
	}, true)
}

func scanIntegration(row interface{ Scan(...any) error }) (*ticket.Integration, error) {
	var body []byte
	if err := row.Scan(&body); errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrIntegrationNotFound
	} else if err != nil {
		return nil, err
	}
	var i ticket.Integration
	if err := json.Unmarshal(body, &i); err != nil {
		return nil, fmt.Errorf("decode stored integration: %w", err)
	}
	return &i, nil
}

// GetIntegration implements ticket.IntegrationStore.
func (x *Integrations) GetIntegration(ctx context.Context, id string) (*ticket.Integration, error) {
	return scanIntegration(x.db.queryRow(ctx, `SELECT body FROM integrations WHERE id = ?`, id))
}

// IntegrationByKey implements ticket.IntegrationStore.
func (x *Integrations) IntegrationByKey(ctx context.Context, keyHash string) (*ticket.Integration, error) {
	return scanIntegration(x.db.queryRow(ctx, `SELECT body FROM integrations WHERE key_hash = ?`, keyHash))
}

func (x *Integrations) list(ctx context.Context, q string, args ...any) ([]*ticket.Integration, error) {
	rows, err := x.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ticket.Integration{}
	for rows.Next() {
		i, err := scanIntegration(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// ListIntegrations implements ticket.IntegrationStore.
func (x *Integrations) ListIntegrations(ctx context.Context) ([]*ticket.Integration, error) {
	return x.list(ctx, `SELECT body FROM integrations ORDER BY created_at, id`)
}

// DueHeartbeats implements ticket.IntegrationStore through the partial index on due_at.
func (x *Integrations) DueHeartbeats(ctx context.Context, now time.Time, limit int) ([]*ticket.Integration, error) {
	return x.list(ctx, `SELECT body FROM integrations WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`, ts(now), limit)
}

// UpdateIntegration implements ticket.IntegrationStore: it runs in the writer, so fn runs once
// on the integration as the writes before left it.
func (x *Integrations) UpdateIntegration(ctx context.Context, id string, fn func(*ticket.Integration) error) (*ticket.Integration, error) {
	var out *ticket.Integration
	err := x.db.writeDurable(ctx, func(tx *Tx) error {
		i, err := scanIntegration(tx.QueryRow(`SELECT body FROM integrations WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if err := fn(i); err != nil {
			if errors.Is(err, ticket.ErrNoChange) {
				out, err = scanIntegration(tx.QueryRow(`SELECT body FROM integrations WHERE id = ?`, id))
			}
			return err
		}
		i.ID = id
		i.Version++
		body, err := json.Marshal(i)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE integrations SET key_hash = ?, due_at = ?, version = ?, body = ? WHERE id = ?`, i.KeyHash, dueAt(i), i.Version, string(body), id)
		if isDuplicate(err) {
			return ticket.Errorf(ticket.ECONFLICT, "Another integration has this key.")
		}
		out = i
		return err
	}, true)
	return out, err
}

// DeleteIntegration implements ticket.IntegrationStore.
func (x *Integrations) DeleteIntegration(ctx context.Context, id string) error {
	return x.db.writeDurable(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM integrations WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ticket.ErrIntegrationNotFound
		}
		return nil
	}, true)
}
