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
	"strings"
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

// migrations bring a database made by an earlier version up to date, in order; the
// database's user_version counts those applied. Each runs in one transaction.
var migrations = []func(tx *sql.Tx) error{
	// 1: compressed values (see compress.go) in columns of their own; rows written before
	// keep their JSON text in the old ones until they are next written.
	execAll(`ALTER TABLE tickets ADD COLUMN zbody BLOB`,
		`ALTER TABLE executions ADD COLUMN zrecord BLOB`),
	// 2: counts kept as the tickets change (GET /admin/stats reads them instead of scanning),
	// started from the tickets already there.
	execAll(`CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, n INTEGER NOT NULL) STRICT`,
		`DELETE FROM counters`,
		`INSERT INTO counters SELECT 'total', COUNT(*) FROM tickets`,
		`INSERT INTO counters SELECT 'status:' || status, COUNT(*) FROM tickets GROUP BY status`,
		`INSERT INTO counters SELECT 'severity:' || severity, COUNT(*) FROM tickets GROUP BY severity`,
		`INSERT INTO counters SELECT 'notification:' || notification_status, COUNT(*) FROM tickets GROUP BY notification_status`),
	// 3: full-text search (FTS5, contentless: the text is in the tickets) and an index for
	// "most recently changed first" and "changed since", filled from the tickets there.
	func(tx *sql.Tx) error {
		if err := execAll(`CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5(text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
			`CREATE INDEX IF NOT EXISTS tickets_updated ON tickets (updated_at DESC, id DESC)`,
			`ALTER TABLE tickets ADD COLUMN category TEXT NOT NULL DEFAULT ''`)(tx); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT rowid, id, coalesce(zbody, body) FROM tickets`)
		if err != nil {
			return err
		}
		type doc struct {
			rowid          int64
			text, category string
		}
		var docs []doc
		for rows.Next() {
			var rowid int64
			var id string
			var body []byte
			if err := rows.Scan(&rowid, &id, &body); err != nil {
				rows.Close()
				return err
			}
			if t, err := decode(body, id); err == nil {
				docs = append(docs, doc{rowid, ticket.SearchText(t), strings.ToLower(t.Category)})
			}
		}
		rows.Close()
		for _, d := range docs {
			if _, err := tx.Exec(`INSERT INTO tickets_fts (rowid, text) VALUES (?, ?)`, d.rowid, d.text); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE tickets SET category = ? WHERE rowid = ?`, d.category, d.rowid); err != nil {
				return err
			}
		}
		return rows.Err()
	},
}

func execAll(stmts ...string) func(*sql.Tx) error {
	return func(tx *sql.Tx) error {
		for _, q := range stmts {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	}
}

func migrate(db *sql.DB) error {
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return err
	}
	for i := version; i < len(migrations); i++ {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if err := migrations[i](tx); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

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
	if _, err := db.Exec(schema + peopleSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if _, err := db.Exec(standardSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	if _, err := db.Exec(intakeSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create the intake tables in %s: %w", path, err)
	}
	// The writer keeps the pages it walks (indexes, the newest leaves) in a larger cache, so
	// that a write costs the same at a million tickets as at ten thousand.
	wdb, err := sql.Open("sqlite", dsn+"&_pragma=cache_size(-32768)")
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
// transaction (in the write's own savepoint when it has several) and see everything written
// before them.
type Tx struct {
	ctx   context.Context
	w     *writerConn
	batch *batchState
}

// batchState is what the writes of one batch share until its commit.
type batchState struct {
	// staged holds what writes want to remember once the batch is committed (see Stage).
	staged   map[any]any
	onCommit []func(staged map[any]any)
	// beforeCommit runs once per key, last in the batch's transaction (see BeforeCommit).
	beforeCommit     map[string]func(*Tx) error
	beforeCommitKeys []string
}

// Stage remembers v under k for the rest of the batch; Staged returns it. Adapters use it to
// see their own uncommitted writes without reading them back.
func (t *Tx) Stage(k, v any) {
	if t.batch.staged == nil {
		t.batch.staged = map[any]any{}
	}
	t.batch.staged[k] = v
}

// Staged returns what Stage remembered under k in this batch.
func (t *Tx) Staged(k any) (any, bool) {
	v, ok := t.batch.staged[k]
	return v, ok
}

// BeforeCommit runs fn once per key, after every write of the batch and inside its
// transaction: writes that add up (counters) are written once per batch instead of once each.
// If fn fails the batch fails.
func (t *Tx) BeforeCommit(key string, fn func(*Tx) error) {
	if t.batch.beforeCommit == nil {
		t.batch.beforeCommit = map[string]func(*Tx) error{}
	}
	if _, ok := t.batch.beforeCommit[key]; !ok {
		t.batch.beforeCommitKeys = append(t.batch.beforeCommitKeys, key)
	}
	t.batch.beforeCommit[key] = fn
}

// OnCommit runs fn with the batch's staged values once the batch is committed; never if the
// commit fails.
func (t *Tx) OnCommit(fn func(staged map[any]any)) { t.batch.onCommit = append(t.batch.onCommit, fn) }

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
	ctx context.Context
	fn  func(*Tx) error
	// single: fn writes with one statement at most, after any check that may fail, so it
	// needs no savepoint of its own (a statement is atomic).
	single bool
	// durable: the caller answers someone once this is committed (a 201), so the commit
	// waits for the fsync. Other writes are fsynced within syncDelay.
	durable bool
	done    chan error
}

// syncDelay bounds how long a committed write may wait for its fsync when nobody waits on it
// (the workflow's bookkeeping): SQLite's WAL with synchronous=NORMAL survives a crash of the
// process as it is, and the next durable commit, or this timer, makes it survive power loss.
const syncDelay = 50 * time.Millisecond

// write runs fn in the writer and returns its outcome once committed (or not). If fn returns
// an error its changes are rolled back and only it fails; if the commit fails every write of
// the batch fails. A write that was queued is always carried out or failed, even when ctx is
// canceled meanwhile, so a caller that gives up never leaves one half done.
func (d *DB) write(ctx context.Context, fn func(*Tx) error) error {
	return d.enqueue(ctx, fn, false, false)
}

// writeOne is write for a fn that changes the database with one statement at most, issued
// after everything that may fail: it runs without a savepoint.
func (d *DB) writeOne(ctx context.Context, fn func(*Tx) error) error {
	return d.enqueue(ctx, fn, true, false)
}

// writeDurable is write (single as for writeOne) that returns only once the commit is fsynced.
func (d *DB) writeDurable(ctx context.Context, fn func(*Tx) error, single bool) error {
	return d.enqueue(ctx, fn, single, true)
}

func (d *DB) enqueue(ctx context.Context, fn func(*Tx) error, single, durable bool) error {
	op := &writeOp{ctx: context.WithoutCancel(ctx), fn: fn, single: single, durable: durable, done: make(chan error, 1)}
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

// diskFailure reports whether err is one of the failures unavailable marks.
func diskFailure(err error) bool {
	return err != nil && ticket.ErrorCode(unavailable(err)) == ticket.EUNAVAILABLE
}

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
	// full: the connection's synchronous mode is FULL (else NORMAL).
	full bool
}

// setSync switches the connection's synchronous mode when it differs.
func (w *writerConn) setSync(ctx context.Context, full bool) error {
	if w.full == full {
		return nil
	}
	mode := "NORMAL"
	if full {
		mode = "FULL"
	}
	if _, err := w.conn.ExecContext(ctx, "PRAGMA synchronous = "+mode); err != nil {
		return err
	}
	w.full = full
	return nil
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
	unsynced := false // a NORMAL commit waits for its fsync
	var syncTimer <-chan time.Time
	for {
		batch = batch[:0]
		select {
		case op := <-d.ops:
			batch = append(batch, op)
		case <-syncTimer:
			// Nobody needed an fsync lately: make the bookkeeping written since durable.
			syncTimer = nil
			if unsynced {
				var err error
				if w, err = d.sync(w); err == nil {
					unsynced = false
				} else {
					syncTimer = time.After(syncDelay)
				}
			}
			continue
		case <-d.closed:
			// Carry out what is still queued, then stop.
			for {
				select {
				case op := <-d.ops:
					batch = append(batch, op)
					if len(batch) == maxBatch {
						w, _ = d.commit(w, batch)
						batch = batch[:0]
					}
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				w, _ = d.commit(w, batch)
			}
			if unsynced {
				w, _ = d.sync(w)
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
		var full bool
		w, full = d.commit(w, batch)
		switch {
		case full:
			unsynced, syncTimer = false, nil
		case w != nil && !unsynced:
			unsynced, syncTimer = true, time.After(syncDelay)
		}
	}
}

// sync makes every commit so far durable: a small write committed with synchronous=FULL
// fsyncs the WAL, and with it every frame before.
func (d *DB) sync(w *writerConn) (*writerConn, error) {
	op := &writeOp{ctx: context.Background(), single: true, durable: true, done: make(chan error, 1), fn: func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('synced', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, ts(d.now()))
		return err
	}}
	w, _ = d.commit(w, []*writeOp{op})
	return w, <-op.done
}

// commit runs one batch in one transaction and tells each write its outcome. It returns the
// connection to use next (nil after a failure: a fresh one is opened next time) and whether
// the commit was fsynced (when a write of the batch is durable).
func (d *DB) commit(w *writerConn, batch []*writeOp) (*writerConn, bool) {
	ctx := context.Background()
	fail := func(err error) (*writerConn, bool) {
		err = unavailable(err)
		for _, op := range batch {
			op.done <- err
		}
		if w != nil {
			w.drop()
		}
		return nil, false
	}
	if w == nil {
		c, err := d.wdb.Conn(ctx)
		if err != nil {
			for _, op := range batch {
				op.done <- unavailable(err)
			}
			return nil, false
		}
		// The DSN opens connections with synchronous=FULL.
		w = &writerConn{conn: c, stmts: map[string]*sql.Stmt{}, full: true}
	}
	durable := false
	for _, op := range batch {
		durable = durable || op.durable
	}
	if err := w.setSync(ctx, durable); err != nil {
		return fail(err)
	}
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fail(err)
	}
	errs := make([]error, len(batch))
	state := &batchState{}
	for i, op := range batch {
		tx := &Tx{ctx: op.ctx, w: w, batch: state}
		if op.single {
			errs[i] = op.fn(tx)
			if diskFailure(errs[i]) {
				// SQLite may have rolled the whole transaction back already: what follows would
				// run outside it. The batch fails as one.
				w.conn.ExecContext(ctx, "ROLLBACK")
				return fail(errs[i])
			}
			continue
		}
		if _, err := tx.Exec("SAVEPOINT w"); err != nil {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return fail(err)
		}
		errs[i] = op.fn(tx)
		if diskFailure(errs[i]) {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return fail(errs[i])
		}
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
	for _, k := range state.beforeCommitKeys {
		if err := state.beforeCommit[k](&Tx{ctx: ctx, w: w, batch: state}); err != nil {
			w.conn.ExecContext(ctx, "ROLLBACK")
			return fail(err)
		}
	}
	if _, err := w.conn.ExecContext(ctx, "COMMIT"); err != nil {
		w.conn.ExecContext(ctx, "ROLLBACK")
		return fail(err)
	}
	for _, fn := range state.onCommit {
		fn(state.staged)
	}
	for i, op := range batch {
		op.done <- unavailable(errs[i])
	}
	return w, durable
}

// Ping writes to the database (one small row, in the next batch): it fails while the disk is
// full, read-only or gone, which a read would not notice.
func (d *DB) Ping(ctx context.Context) error {
	return d.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('health', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, ts(d.now()))
		return err
	}, true)
}
