// Package sqlite stores tickets and workflow executions in one SQLite database for the
// embedded server: WAL journal, synchronous=FULL, so a ticket acknowledged with a 201 survives
// a crash or power loss. Each ticket is kept whole as JSON, next to the few columns that are
// queried (status, severity, notification status, times), so reads return exactly what was
// written.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is an open database. Close it when done.
type DB struct {
	db  *sql.DB
	now func() time.Time
}

const schema = `
CREATE TABLE IF NOT EXISTS tickets (
	id                  TEXT PRIMARY KEY,
	created_at          TEXT NOT NULL,
	updated_at          TEXT NOT NULL,
	status              TEXT NOT NULL,
	severity            TEXT NOT NULL,
	notification_status TEXT NOT NULL,
	version             INTEGER NOT NULL,
	body                TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS tickets_newest ON tickets (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS tickets_pending ON tickets (updated_at) WHERE notification_status = 'PENDING';
CREATE TABLE IF NOT EXISTS idempotency_keys (
	key        TEXT PRIMARY KEY,
	hash       TEXT NOT NULL,
	ticket_id  TEXT NOT NULL REFERENCES tickets (id),
	created_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS executions (
	arn        TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	start_date TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	summary    TEXT NOT NULL,
	events     TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS executions_by_name ON executions (name, seq DESC);
`

// Open opens (creating if needed) the database file at path. now stamps updates; nil means
// time.Now.
func Open(path string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One writer at a time is what SQLite allows anyway; a small pool keeps readers going
	// while a write transaction waits for its fsync.
	db.SetMaxOpenConns(8)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return &DB{db: db, now: now}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// timeFormat sorts as text in time order: fixed width, always UTC.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

// isDuplicate reports whether err is a primary key or unique constraint violation.
func isDuplicate(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE, so writers queue instead of failing
// half way).
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
