package sqlite

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Standard workflow executions run for hours or days (an escalation waits for someone to
// acknowledge) and must survive the process: while one runs its row holds the engine's latest
// checkpoint (and the last answer accepted for its task token), so that a restarted server
// resumes it where it stopped. The row stays, without the checkpoint, once the execution ends:
// it is what ListExecutions reads (the executions table keeps the whole record and history).
//
// These are the local Step Functions service's checkpoints (its port sfnapi.Checkpoints).
const standardSchema = `
CREATE TABLE IF NOT EXISTS standard_executions (
	arn               TEXT PRIMARY KEY,
	state_machine_arn TEXT NOT NULL,
	name              TEXT NOT NULL,
	status            TEXT NOT NULL,
	start_date        TEXT NOT NULL,
	stop_date         TEXT,
	checkpoint        BLOB,
	answer_token      TEXT,
	answer            BLOB
) STRICT;
CREATE INDEX IF NOT EXISTS standard_running ON standard_executions (arn) WHERE status = 'RUNNING';
CREATE INDEX IF NOT EXISTS standard_by_machine ON standard_executions (state_machine_arn, start_date DESC, arn DESC);
CREATE INDEX IF NOT EXISTS standard_by_status ON standard_executions (state_machine_arn, status, start_date DESC, arn DESC);
`

// errNotRunning: a checkpoint or answer for an execution that is not running (any more).
var errNotRunning = ticket.Errorf(ticket.ENOTFOUND, "No running execution has that ARN.")

// CreateExecution records a new Standard execution, RUNNING, with its first checkpoint, and
// returns once that is fsynced: the caller is told the execution exists. An ARN recorded
// before (running or not) fails with ticket.ECONFLICT: Standard names are unique.
func (e *Executions) CreateExecution(ctx context.Context, x *ticket.Execution, checkpoint []byte) error {
	cp := pack(checkpoint)
	err := e.db.writeDurable(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO standard_executions (arn, state_machine_arn, name, status, start_date, checkpoint) VALUES (?, ?, ?, 'RUNNING', ?, ?)`,
			x.ExecutionArn, x.StateMachineArn, x.Name, ts(x.StartDate), cp)
		return err
	}, true)
	if isDuplicate(err) {
		return ticket.Errorf(ticket.ECONFLICT, "An execution with that ARN exists already.")
	}
	return err
}

// SaveCheckpoint replaces the checkpoint of a running execution. It returns once committed
// (the checkpoint survives the process being killed); durable: once fsynced too (it survives
// power loss), for the checkpoints taken before something is seen outside. Others share the
// next fsync (at most 50 ms later).
func (e *Executions) SaveCheckpoint(ctx context.Context, executionArn string, checkpoint []byte, durable bool) error {
	cp := pack(checkpoint)
	fn := func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE standard_executions SET checkpoint = ? WHERE arn = ? AND status = 'RUNNING'`, cp, executionArn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, errNotRunning)
		}
		return nil
	}
	if durable {
		return e.db.writeDurable(ctx, fn, true)
	}
	return e.db.writeOne(ctx, fn)
}

// SaveTaskAnswer records, fsynced, what SendTaskSuccess or SendTaskFailure sent with token, so
// that an answer the sender was told was taken is not lost if the process dies before the
// execution's next checkpoint.
func (e *Executions) SaveTaskAnswer(ctx context.Context, executionArn, token string, answer []byte) error {
	a := pack(answer)
	return e.db.writeDurable(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE standard_executions SET answer_token = ?, answer = ? WHERE arn = ? AND status = 'RUNNING'`, token, a, executionArn)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, errNotRunning)
		}
		return nil
	}, true)
}

// FinishExecution ends a running Standard execution: its row gets the final status and loses
// its checkpoint, and x is saved as its execution record, in one transaction.
func (e *Executions) FinishExecution(ctx context.Context, x *ticket.Execution) error {
	rec, err := packExecution(x)
	if err != nil {
		return err
	}
	var stop any
	if x.StopDate != nil {
		stop = ts(*x.StopDate)
	}
	return e.db.write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE standard_executions SET status = ?, stop_date = ?, checkpoint = NULL, answer_token = NULL, answer = NULL WHERE arn = ?`,
			x.Status, stop, x.ExecutionArn); err != nil {
			return err
		}
		return e.insert(tx, x, rec)
	})
}

// RunningExecutions calls each with the checkpoint of every running Standard execution, and
// the last answer recorded for a task token of it (answerToken "" when there is none).
func (e *Executions) RunningExecutions(ctx context.Context, each func(checkpoint, answer []byte, answerToken string) error) error {
	rows, err := e.db.query(ctx, `SELECT checkpoint, coalesce(answer_token, ''), answer FROM standard_executions WHERE status = 'RUNNING'`)
	if err != nil {
		return err
	}
	type running struct {
		cp, answer []byte
		token      string
	}
	var all []running
	for rows.Next() {
		var r running
		if err := rows.Scan(&r.cp, &r.token, &r.answer); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		cp, err := unpack(r.cp)
		if err != nil {
			return err
		}
		var answer []byte
		if len(r.answer) > 0 {
			if answer, err = unpack(r.answer); err != nil {
				return err
			}
		}
		if err := each(cp, answer, r.token); err != nil {
			return err
		}
	}
	return nil
}

// ListExecutions lists a state machine's Standard executions, newest first (only those with
// status, when it is not ""), up to limit, after the cursor of the previous page ("" for the
// first); it returns the next page's cursor, "" after the last.
func (e *Executions) ListExecutions(ctx context.Context, stateMachineArn, status string, limit int, after string) ([]*ticket.Execution, string, error) {
	q := `SELECT arn, state_machine_arn, name, status, start_date, coalesce(stop_date, '') FROM standard_executions WHERE state_machine_arn = ?`
	args := []any{stateMachineArn}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	if after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		start, arn, ok := strings.Cut(string(b), "\n")
		if err != nil || !ok {
			return nil, "", ticket.Errorf(ticket.EINVALID, "Invalid pagination token.")
		}
		q += ` AND (start_date, arn) < (?, ?)`
		args = append(args, start, arn)
	}
	q += ` ORDER BY start_date DESC, arn DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := e.db.query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []*ticket.Execution{}
	var lastStart string
	for rows.Next() {
		var x ticket.Execution
		var start, stop string
		if err := rows.Scan(&x.ExecutionArn, &x.StateMachineArn, &x.Name, &x.Status, &start, &stop); err != nil {
			return nil, "", err
		}
		if len(out) == limit {
			next := base64.RawURLEncoding.EncodeToString([]byte(lastStart + "\n" + out[len(out)-1].ExecutionArn))
			return out, next, rows.Err()
		}
		x.StartDate, _ = time.Parse(timeFormat, start)
		if stop != "" {
			t, _ := time.Parse(timeFormat, stop)
			x.StopDate = &t
		}
		lastStart = start
		out = append(out, &x)
	}
	return out, "", rows.Err()
}

// deleteFinishedStandard deletes up to limit finished Standard executions started before
// cutoff (their records go with DeleteBefore).
func deleteFinishedStandard(tx *Tx, cutoff time.Time, limit int) error {
	_, err := tx.Exec(`DELETE FROM standard_executions WHERE arn IN (SELECT arn FROM standard_executions WHERE status != 'RUNNING' AND start_date < ? LIMIT ?)`,
		ts(cutoff), limit)
	return err
}
