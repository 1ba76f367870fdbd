package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Executions is the ticket.ExecutionStore of the embedded server.
type Executions struct{ db *DB }

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
	return e.db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO executions (arn, name, start_date, seq, summary, events)
			VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM executions), ?, ?)
			ON CONFLICT (arn) DO UPDATE SET summary = excluded.summary, events = excluded.events`,
			x.ExecutionArn, x.Name, ts(x.StartDate), string(sum), string(ev))
		return err
	})
}

// Executions implements ticket.ExecutionStore.
func (e *Executions) Executions(ctx context.Context, name string) ([]*ticket.Execution, error) {
	rows, err := e.db.db.QueryContext(ctx, `SELECT summary FROM executions WHERE name = ? ORDER BY seq DESC`, name)
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
	err := e.db.db.QueryRowContext(ctx, `SELECT summary, events FROM executions WHERE name = ? OR arn = ? ORDER BY seq DESC LIMIT 1`, name, name).Scan(&sum, &ev)
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
