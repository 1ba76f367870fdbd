package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// People is the ticket.People of the embedded server: users, sessions and API tokens in the
// same database as the tickets, written through the same writer.
type People struct{ db *DB }

var _ ticket.People = (*People)(nil)

// NewPeople returns the people kept in db.
func NewPeople(db *DB) *People { return &People{db: db} }

const peopleSchema = `
CREATE TABLE IF NOT EXISTS users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	disabled      INTEGER NOT NULL,
	password_hash TEXT NOT NULL,
	must_change   INTEGER NOT NULL,
	subject       TEXT,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	last_sign_in  TEXT NOT NULL,
	version       INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS users_subject ON users (subject) WHERE subject IS NOT NULL;
CREATE TABLE IF NOT EXISTS sessions (
	hash       TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	last_seen  TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	prefix     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	last_used  TEXT NOT NULL,
	revoked_at TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS api_tokens_by_user ON api_tokens (user_id, created_at DESC);
`

const userColumns = `id, email, name, role, disabled, password_hash, must_change, subject, created_at, updated_at, last_sign_in, version`

type rowScanner interface{ Scan(dest ...any) error }

func scanUser(r rowScanner) (*ticket.User, error) {
	var u ticket.User
	var subject sql.NullString
	var created, updated, last string
	var disabled, must int
	err := r.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &disabled, &u.PasswordHash, &must, &subject, &created, &updated, &last, &u.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrUserNotFound
	}
	if err != nil {
		return nil, err
	}
	u.Disabled, u.MustChangePassword, u.Subject = disabled == 1, must == 1, subject.String
	u.CreatedAt, u.UpdatedAt, u.LastSignIn = parseTS(created), parseTS(updated), parseTS(last)
	return &u, nil
}

// parseTS reads a time written by ts; "" is the zero time.
func parseTS(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

func tsOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ts(t)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateUser implements ticket.People.
func (p *People) CreateUser(ctx context.Context, u *ticket.User) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, u.Name, u.Role, b2i(u.Disabled), u.PasswordHash, b2i(u.MustChangePassword), nullable(u.Subject),
			ts(u.CreatedAt), ts(u.UpdatedAt), tsOrEmpty(u.LastSignIn), u.Version)
		if isDuplicate(err) {
			return ticket.ErrEmailTaken
		}
		return err
	}, true)
}

func (p *People) userWhere(ctx context.Context, where string, arg any) (*ticket.User, error) {
	return scanUser(p.db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
}

// GetUser implements ticket.People.
func (p *People) GetUser(ctx context.Context, id string) (*ticket.User, error) {
	return p.userWhere(ctx, "id = ?", id)
}

// UserByEmail implements ticket.People; emails are compared as stored (lower case).
func (p *People) UserByEmail(ctx context.Context, email string) (*ticket.User, error) {
	return p.userWhere(ctx, "email = ?", email)
}

// UserBySubject implements ticket.People.
func (p *People) UserBySubject(ctx context.Context, subject string) (*ticket.User, error) {
	return p.userWhere(ctx, "subject = ?", subject)
}

// ListUsers implements ticket.People.
func (p *People) ListUsers(ctx context.Context) ([]*ticket.User, error) {
	rows, err := p.db.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY name COLLATE NOCASE, email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ticket.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers implements ticket.People.
func (p *People) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := p.db.queryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

// UpdateUser implements ticket.People: one conditional write in the writer.
func (p *People) UpdateUser(ctx context.Context, id string, fn func(*ticket.User) error) (*ticket.User, error) {
	var out *ticket.User
	err := p.db.writeDurable(ctx, func(tx *Tx) error {
		u, err := scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			if errors.Is(err, ticket.ErrNoChange) {
				out, err = scanUser(tx.QueryRow(`SELECT `+userColumns+` FROM users WHERE id = ?`, id))
			}
			return err
		}
		u.Version++
		u.UpdatedAt = p.db.now().UTC()
		_, err = tx.Exec(`UPDATE users SET email = ?, name = ?, role = ?, disabled = ?, password_hash = ?, must_change = ?, subject = ?, updated_at = ?, last_sign_in = ?, version = ? WHERE id = ?`,
			u.Email, u.Name, u.Role, b2i(u.Disabled), u.PasswordHash, b2i(u.MustChangePassword), nullable(u.Subject), ts(u.UpdatedAt), tsOrEmpty(u.LastSignIn), u.Version, id)
		if isDuplicate(err) {
			return ticket.ErrEmailTaken
		}
		out = u
		return err
	}, true)
	return out, err
}

// CreateSession implements ticket.People.
func (p *People) CreateSession(ctx context.Context, s *ticket.Session) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO sessions (hash, user_id, created_at, expires_at, last_seen) VALUES (?, ?, ?, ?, ?)`,
			s.Hash, s.UserID, ts(s.CreatedAt), ts(s.ExpiresAt), ts(s.LastSeen))
		return err
	}, true)
}

// Session implements ticket.People.
func (p *People) Session(ctx context.Context, hash string) (*ticket.Session, error) {
	var s ticket.Session
	var created, expires, seen string
	err := p.db.queryRow(ctx, `SELECT hash, user_id, created_at, expires_at, last_seen FROM sessions WHERE hash = ?`, hash).Scan(&s.Hash, &s.UserID, &created, &expires, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.LastSeen = parseTS(created), parseTS(expires), parseTS(seen)
	return &s, nil
}

// TouchSession implements ticket.People (a deferred write: losing it on power loss costs an
// idle minute at most).
func (p *People) TouchSession(ctx context.Context, hash string, at time.Time) error {
	return p.db.writeOne(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET last_seen = ? WHERE hash = ?`, ts(at), hash)
		return err
	})
}

// DeleteSession implements ticket.People.
func (p *People) DeleteSession(ctx context.Context, hash string) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE hash = ?`, hash)
		return err
	}, true)
}

// DeleteSessions implements ticket.People.
func (p *People) DeleteSessions(ctx context.Context, userID string) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE user_id = ?`, userID)
		return err
	}, true)
}

const tokenColumns = `id, user_id, name, hash, prefix, created_at, last_used, revoked_at`

func scanToken(r rowScanner) (*ticket.APIToken, error) {
	var t ticket.APIToken
	var created, used, revoked string
	err := r.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Prefix, &created, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrTokenNotFound
	}
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsed, t.RevokedAt = parseTS(created), parseTS(used), parseTS(revoked)
	return &t, nil
}

// CreateToken implements ticket.People.
func (p *People) CreateToken(ctx context.Context, t *ticket.APIToken) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.UserID, t.Name, t.Hash, t.Prefix, ts(t.CreatedAt), tsOrEmpty(t.LastUsed), tsOrEmpty(t.RevokedAt))
		if isDuplicate(err) {
			return ticket.Errorf(ticket.ECONFLICT, "This token exists already.")
		}
		return err
	}, true)
}

// TokenByHash implements ticket.People.
func (p *People) TokenByHash(ctx context.Context, hash string) (*ticket.APIToken, error) {
	return scanToken(p.db.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
}

// Tokens implements ticket.People.
func (p *People) Tokens(ctx context.Context, userID string) ([]*ticket.APIToken, error) {
	rows, err := p.db.query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ticket.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements ticket.People.
func (p *People) RevokeToken(ctx context.Context, userID, id string, at time.Time) error {
	return p.db.writeDurable(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at = ''`, ts(at), id, userID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ticket.ErrTokenNotFound
		}
		return nil
	}, true)
}

// TouchToken implements ticket.People (deferred, as TouchSession).
func (p *People) TouchToken(ctx context.Context, id string, at time.Time) error {
	return p.db.writeOne(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE api_tokens SET last_used = ? WHERE id = ?`, ts(at), id)
		return err
	})
}
