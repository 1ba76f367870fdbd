// Package sqlite stores tickets and workflow executions in one SQLite database for the
// embedded server: WAL journal, synchronous=FULL, so a ticket acknowledged with a 201 survives
// a crash or power loss. Each ticket is kept whole as JSON, next to the few columns that are
// queried (status, severity, notification status, times), so reads return exactly what was
// written.
//
// Every write goes through one writer: a goroutine holding one connection that takes writes
// in the order they arrive and commits all those waiting together, each in its own savepoint,
// in one transaction and so one fsync (group commit). Writers never wait on SQLite's lock,
// one failing write fails only itself, and statements are prepared once. Reads use a pool of
// other connections and never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// DB is an open database. Close it when done.
type DB struct {
	db *sql.DB // readers
	// wdb holds the writer's one connection, apart from the readers': after a failure it is
	// replaced by a freshly opened one, never by a reader's (which may have been opened
	// read-only while the disk was).
	wdb *sql.DB
	now func() time.Time

	ops    chan *writeOp
	closed chan struct{}
	done   chan struct{}
	once   sync.Once

	rmu   sync.Mutex
	reads map[string]*sql.Stmt
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
CREATE INDEX IF NOT EXISTS executions_seq ON executions (seq);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
`

// maxBatch bounds the writes committed together.
const maxBatch = 512

// Open opens (creating if needed) the database file at path. now stamps updates; nil means
// time.Now.
func Open(path string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Reads run on up to 8 connections while the writer waits for its fsync.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	d := &DB{db: db, wdb: wdb, now: now, ops: make(chan *writeOp, 4*maxBatch), closed: make(chan struct{}), done: make(chan struct{}), reads: map[string]*sql.Stmt{}}
	go d.writer()
	return d, nil
}

// Close stops the writer after the writes already queued and closes the database.
func (d *DB) Close() error {
	d.once.Do(func() { close(d.closed) })
	<-d.done
	d.rmu.Lock()
	for _, st := range d.reads {
		st.Close()
	}
	d.rmu.Unlock()
	d.wdb.Close()
	return d.db.Close()
}

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

// query runs a read on the pool with a statement prepared once.
func (d *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := d.readStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (d *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := d.readStmt(ctx, q)
	if err != nil {
		// A Row carrying the error: QueryRowContext on a canceled context gives one.
		c, cancel := context.WithCancel(ctx)
		cancel()
		return d.db.QueryRowContext(c, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (d *DB) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	d.rmu.Lock()
	defer d.rmu.Unlock()
	if st, ok := d.reads[q]; ok {
		return st, nil
	}
	st, err := d.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	d.reads[q] = st
	return st, nil
}

// Tx is the writer's transaction as one write sees it: its statements run inside the batch's
// transaction, in the write's own savepoint, and see everything written before them.
type Tx struct {
	ctx context.Context
	w   *writerConn
}

// Exec runs a statement (prepared once per connection).
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	st, err := t.w.stmt(t.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// QueryRow runs a query expected to return at most one row.
func (t *Tx) QueryRow(q string, args ...any) *sql.Row {
	st, err := t.w.stmt(t.ctx, q)
	if err != nil {
		return t.w.conn.QueryRowContext(t.ctx, q, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

// Query runs a query.
func (t *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.w.stmt(t.ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

type writeOp struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// write runs fn in the writer and returns its outcome once committed (or not). If fn returns
// an error its changes are rolled back and only it fails; if the commit fails every write of
// the batch fails. A write that was queued is always carried out or failed, even when ctx is
// canceled meanwhile, so a caller that gives up never leaves one half done.
func (d *DB) write(ctx context.Context, fn func(*Tx) error) error {
	op := &writeOp{ctx: context.WithoutCancel(ctx), fn: fn, done: make(chan error, 1)}
	select {
	case d.ops <- op:
	case <-d.closed:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-op.done
}

var errClosed = errors.New("sqlite: database closed")

// unavailable marks the failures that say the disk, not the request, is the problem (full,
// read-only, I/O errors, cannot open): they pass when the disk recovers, and the API answers
// them 503 with Retry-After instead of 500.
func unavailable(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL:
		return ticket.Unavailable(err)
	}
	return err
}

// writerConn is the writer's connection with its prepared statements.
type writerConn struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
}

func (w *writerConn) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// drop discards the connection: after a failed commit (disk full, read-only, I/O error) a new
// one is opened for the next batch, so the store recovers by itself when the disk does.
func (w *writerConn) drop() {
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn.Raw(func(any) error { return driver.ErrBadConn })
	w.conn.Close()
}

func (d *DB) writer() {
	defer close(d.done)
	var w *writerConn
	defer func() {
		if w != nil {
			for _, st := range w.stmts {
				st.Close()
			}
			w.conn.Close()
		}
	}()
	batch := make([]*writeOp, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-d.ops:
			batch = append(batch, op)
		case <-d.closed:
			// Carry out what is still queued, then stop.
			for {
				select {
				case op := <-d.ops:
					batch = append(batch, op)
					if len(batch) == maxBatch {
						w = d.commit(w, batch)
						batch = batch[:0]
					}
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				w = d.commit(w, batch)
			}
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-d.ops:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		w = d.commit(w, batch)
	}
}

// commit runs one batch in one transaction and tells each write its outcome. It returns the
// connection to use next (nil after a failure: a fresh one is opened next time).
func (d *DB) commit(w *writerConn, batch []*writeOp) *writerConn {
	ctx := context.Background()
	fail := func(err error) *writerConn {
		err = unavailable(err)
		for _, op := range batch {
			op.done <- err
		}
		if w != nil {
			w.drop()
		}
		return nil
	}
	if w == nil {
		c, err := d.wdb.Conn(ctx)
		if err != nil {
			for _, op := range batch {
				op.done <- unavailable(err)
			}
			return nil
		}
		w = &writerConn{conn: c, stmts: map[string]*sql.Stmt{}}
	}
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	errs := make([]error, len(batch))
	for i, op := range batch {
		tx := &Tx{ctx: op.ctx, w: w}
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return fail(err)
		}
		errs[i] = op.fn(tx)
		if errs[i] != nil {
			if _, err := tx.Exec("ROLLBACK TO w"); err != nil {
				w.conn.ExecContext(ctx, "ROLLBACK")
				return fail(err)
			}
		}
		if _, err := tx.Exec("RELEASE w"); err != nil {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return fail(err)
		}
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		w.conn.ExecContext(ctx, "ROLLBACK")
		return fail(err)
	}
	for i, op := range batch {
		op.done <- unavailable(errs[i])
	}
	return w
}

// Ping writes to the database (one small row, in the next batch): it fails while the disk is
// full, read-only or gone, which a read would not notice.
func (d *DB) Ping(ctx context.Context) error {
	return d.write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('health', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, ts(d.now()))
		return err
	})
}
