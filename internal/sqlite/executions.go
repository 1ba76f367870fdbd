package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

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
	events := x.Events
	if events == nil {
		events = []json.RawMessage{}
	}
	ev, err := json.Marshal(events)
	if err != nil {
		return err
	}
	summary := *x
	summary.Events = nil
	sum, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	return e.db.write(ctx, func(tx *Tx) error {
		if e.seq == 0 {
			// Once per process, through the index on seq: never a scan inside the writer.
			var max sql.NullInt64
			if err := tx.QueryRow(`SELECT MAX(seq) FROM executions`).Scan(&max); err != nil {
				return err
			}
			e.seq = max.Int64
		}
		_, err := tx.Exec(`INSERT INTO executions (arn, name, start_date, seq, summary, events)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (arn) DO UPDATE SET summary = excluded.summary, events = excluded.events`,
			x.ExecutionArn, x.Name, ts(x.StartDate), e.seq+1, string(sum), string(ev))
		if err == nil {
			e.seq++
		}
		return err
	})
}

// Executions implements ticket.ExecutionStore.
func (e *Executions) Executions(ctx context.Context, name string) ([]*ticket.Execution, error) {
	rows, err := e.db.query(ctx, `SELECT summary FROM executions WHERE name = ? ORDER BY seq DESC`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*ticket.Execution{}
	for rows.Next() {
		var sum []byte
		if err := rows.Scan(&sum); err != nil {
			return nil, err
		}
		var x ticket.Execution
		if err := json.Unmarshal(sum, &x); err != nil {
			return nil, err
		}
		out = append(out, &x)
	}
	return out, rows.Err()
}

// LatestExecution implements ticket.ExecutionStore. An execution ARN names exactly one
// execution, so it is accepted in place of a name.
func (e *Executions) LatestExecution(ctx context.Context, name string) (*ticket.Execution, error) {
	var sum, ev []byte
	err := e.db.queryRow(ctx, `SELECT summary, events FROM executions WHERE name = ? OR arn = ? ORDER BY seq DESC LIMIT 1`, name, name).Scan(&sum, &ev)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ticket.ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	var x ticket.Execution
	if err := json.Unmarshal(sum, &x); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(ev, &x.Events); err != nil {
		return nil, err
	}
	return &x, nil
}
