package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
)

const escalateArn = "arn:aws:states:local:000000000000:stateMachine:escalate"

func standardExecution(i int, start time.Time) *ticket.Execution {
	name := fmt.Sprintf("t-%d", i)
	return &ticket.Execution{
		ExecutionArn: "arn:aws:states:local:000000000000:execution:escalate:" + name, StateMachineArn: escalateArn,
		Name: name, Status: "RUNNING", StartDate: start, Input: []byte(`{}`),
	}
}

type running struct{ checkpoint, answer, token string }

func runningOf(t *testing.T, x *sqlite.Executions) []running {
	t.Helper()
	var out []running
	if err := x.RunningExecutions(context.Background(), func(cp, answer []byte, token string) error {
		out = append(out, running{string(cp), string(answer), token})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStandardCheckpoints: a running execution's checkpoint and task answer survive reopening
// the database; finishing it keeps its record and lists it with its final status.
func TestStandardCheckpoints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "incidents.db")
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := sqlite.NewExecutions(db)
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	e := standardExecution(1, t0)
	if err := x.CreateExecution(ctx, e, []byte(`{"step":0}`)); err != nil {
		t.Fatal(err)
	}
	if err := x.CreateExecution(ctx, e, []byte(`{"step":0}`)); ticket.ErrorCode(err) != ticket.ECONFLICT {
		t.Errorf("second CreateExecution = %v, want a conflict", err)
	}
	if err := x.SaveCheckpoint(ctx, e.ExecutionArn, []byte(`{"step":1}`), false); err != nil {
		t.Fatal(err)
	}
	if err := x.SaveCheckpoint(ctx, e.ExecutionArn, []byte(`{"step":2}`), true); err != nil {
		t.Fatal(err)
	}
	if err := x.SaveTaskAnswer(ctx, e.ExecutionArn, "tok", []byte(`{"kind":"SUCCESS"}`)); err != nil {
		t.Fatal(err)
	}
	if err := x.SaveCheckpoint(ctx, e.ExecutionArn+"-nope", []byte(`{}`), false); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("SaveCheckpoint of an unknown execution = %v, want not found", err)
	}
	db.Close()

	db, err = sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x = sqlite.NewExecutions(db)
	got := runningOf(t, x)
	if len(got) != 1 || got[0] != (running{`{"step":2}`, `{"kind":"SUCCESS"}`, "tok"}) {
		t.Fatalf("running after reopen = %+v, want the last checkpoint and the answer", got)
	}
	stop := t0.Add(time.Hour)
	e.Status, e.StopDate, e.Output = "SUCCEEDED", &stop, []byte(`{"ack":true}`)
	e.Events = []json.RawMessage{json.RawMessage(`{"id":1,"type":"ExecutionStarted"}`)}
	if err := x.FinishExecution(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got := runningOf(t, x); len(got) != 0 {
		t.Errorf("still running after FinishExecution: %+v", got)
	}
	rec, err := x.LatestExecution(ctx, e.ExecutionArn)
	if err != nil || rec.Status != "SUCCEEDED" || len(rec.Events) != 1 {
		t.Errorf("record = %+v, %v; want it saved SUCCEEDED with its history", rec, err)
	}
	list, next, err := x.ListExecutions(ctx, escalateArn, "", 10, "")
	if err != nil || len(list) != 1 || next != "" || list[0].Status != "SUCCEEDED" || list[0].StopDate == nil || !list[0].StopDate.Equal(stop) {
		t.Errorf("ListExecutions = %+v, %q, %v", list, next, err)
	}
	if err := x.SaveCheckpoint(ctx, e.ExecutionArn, []byte(`{}`), false); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("SaveCheckpoint after the end = %v, want not found", err)
	}
}

func TestListStandardExecutions(t *testing.T) {
	ctx := context.Background()
	x := sqlite.NewExecutions(open(t))
	t0 := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	for i := range 7 {
		e := standardExecution(i, t0.Add(time.Duration(i)*time.Minute))
		if err := x.CreateExecution(ctx, e, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			stop := e.StartDate.Add(time.Second)
			e.Status, e.StopDate = "ABORTED", &stop
			if err := x.FinishExecution(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	other := standardExecution(99, t0)
	other.StateMachineArn += "-other"
	if err := x.CreateExecution(ctx, other, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	page := func(status string, limit int) string {
		var names []string
		after := ""
		for {
			list, next, err := x.ListExecutions(ctx, escalateArn, status, limit, after)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range list {
				names = append(names, e.Name+":"+e.Status)
			}
			if next == "" {
				return strings.Join(names, ",")
			}
			after = next
		}
	}
	if got, want := page("", 3), "t-6:ABORTED,t-5:RUNNING,t-4:ABORTED,t-3:RUNNING,t-2:ABORTED,t-1:RUNNING,t-0:ABORTED"; got != want {
		t.Errorf("all, newest first\n got %s\nwant %s", got, want)
	}
	if got, want := page("RUNNING", 2), "t-5:RUNNING,t-3:RUNNING,t-1:RUNNING"; got != want {
		t.Errorf("RUNNING\n got %s\nwant %s", got, want)
	}
	if _, _, err := x.ListExecutions(ctx, escalateArn, "", 3, "!bad"); ticket.ErrorCode(err) != ticket.EINVALID {
		t.Errorf("bad cursor = %v, want invalid", err)
	}
	n, err := x.DeleteBefore(ctx, t0.Add(time.Hour), 100)
	if err != nil || n != 4 {
		t.Fatalf("DeleteBefore = %d, %v; want the 4 finished records", n, err)
	}
	if got, want := page("", 10), "t-5:RUNNING,t-3:RUNNING,t-1:RUNNING"; got != want {
		t.Errorf("after DeleteBefore\n got %s\nwant %s (running executions are kept)", got, want)
	}
}
