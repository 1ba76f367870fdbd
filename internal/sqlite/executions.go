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

// Executions is the ticket.ExecutionStore of the embedded server.
type Executions struct {
	db *DB
	// seq is the last sequence number given out; only the writer touches it (0: not read yet).
	seq int64
}

var _ ticket.ExecutionStore = (*Executions)(nil)

// NewExecutions returns the execution records kept in db.
func NewExecutions(db *DB) *Executions { return &Executions{db: db} }

// SaveExecution implements ticket.ExecutionStore. The first save of an ARN fixes its order
// among executions of the same name.
func (e *Executions) SaveExecution(ctx context.Context, x *ticket.Execution) error {
	rec, err := packExecution(x)
	if err != nil {
		return err
	}
	return e.db.writeOne(ctx, func(tx *Tx) error { return e.insert(tx, x, rec) })
}

// packExecution is the stored form of an execution: one compressed record [summary, events].
func packExecution(x *ticket.Execution) ([]byte, error) {
	// The events are JSON already: joined as they are, not re-encoded (json.Marshal would
	// validate and compact each one again).
	ev := make([]byte, 0, 2+len(x.Events)*256)
	ev = append(ev, '[')
	for i, e := range x.Events {
		if i > 0 {
			ev = append(ev, ',')
		}
		ev = append(ev, e...)
	}
	ev = append(ev, ']')
	summary := *x
	summary.Events = nil
	sum, err := json.Marshal(summary)
	if err != nil {
		return nil, err
	}
	return pack(append(append(append(append([]byte{'['}, sum...), ','), ev...), ']')), nil
}

// insert writes an execution record with one statement (in the writer).
func (e *Executions) insert(tx *Tx, x *ticket.Execution, rec []byte) error {
	if e.seq == 0 {
		// Once per process, through the index on seq: never a scan inside the writer.
		var max sql.NullInt64
		if err := tx.QueryRow(`SELECT MAX(seq) FROM executions`).Scan(&max); err != nil {
			return err
		}
		e.seq = max.Int64
	}
	_, err := tx.Exec(`INSERT INTO executions (arn, name, start_date, seq, summary, events, zrecord)
		VALUES (?, ?, ?, ?, '', '', ?)
		ON CONFLICT (arn) DO UPDATE SET summary = '', events = '', zrecord = excluded.zrecord`,
		x.ExecutionArn, x.Name, ts(x.StartDate), e.seq+1, rec)
	if err == nil {
		e.seq++
	}
	return err
}

// Executions implements ticket.ExecutionStore.
func (e *Executions) Executions(ctx context.Context, name string) ([]*ticket.Execution, error) {
	rows, err := e.db.query(ctx, `SELECT zrecord, summary, '' FROM executions WHERE name = ? ORDER BY seq DESC`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ticket.Execution{}
	for rows.Next() {
		var rec, sum, ev []byte
		if err := rows.Scan(&rec, &sum, &ev); err != nil {
			return nil, err
		}
		x, err := decodeExecution(rec, sum, nil)
		if err != nil {
			return nil, err
		}
		x.Events = nil
		out = append(out, x)
	}
	return out, rows.Err()
}

// LatestExecution implements ticket.ExecutionStore. An execution ARN names exactly one
// execution, so it is accepted in place of a name.
func (e *Executions) LatestExecution(ctx context.Context, name string) (*ticket.Execution, error) {
	var rec, sum, ev []byte
	err := e.db.queryRow(ctx, `SELECT zrecord, summary, events FROM executions WHERE name = ? OR arn = ? ORDER BY seq DESC LIMIT 1`, name, name).Scan(&rec, &sum, &ev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	return decodeExecution(rec, sum, ev)
}

// decodeExecution reads a stored execution: the compressed [summary, events] record, or the
// summary and events stored as text before compression.
func decodeExecution(rec, sum, ev []byte) (*ticket.Execution, error) {
	if len(rec) > 0 {
		b, err := unpack(rec)
		if err != nil {
			return nil, err
		}
		var parts []json.RawMessage
		if err := json.Unmarshal(b, &parts); err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("decode stored execution: %v", err)
		}
		sum, ev = parts[0], parts[1]
	}
	var x ticket.Execution
	if err := json.Unmarshal(sum, &x); err != nil {
		return nil, err
	}
	if len(ev) > 0 {
		if err := json.Unmarshal(ev, &x.Events); err != nil {
			return nil, err
		}
	}
	return &x, nil
}

// DeleteBefore deletes up to limit of the oldest executions started before cutoff and returns
// how many it deleted: the retention of execution history (Step Functions keeps Standard
// history 90 days and Express history only in logs). It walks the seq index from the oldest,
// so it costs what it deletes.
func (e *Executions) DeleteBefore(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := e.db.write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM executions WHERE seq IN (SELECT seq FROM executions ORDER BY seq LIMIT ?) AND start_date < ?`,
			limit, ts(cutoff))
		if err != nil {
			return err
		}
		d, err := res.RowsAffected()
		n = int(d)
		if err != nil {
			return err
		}
		return deleteFinishedStandard(tx, cutoff, limit)
	})
	return n, err
}
