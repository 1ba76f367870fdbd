package statemachine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
	"github.com/incidentmanager/incidents/statemachine"
	"github.com/incidentmanager/incidents/tasks"
)

// flaky is a channel that fails with the queued errors, then succeeds.
type flaky struct {
	name  string
	mu    sync.Mutex
	fails []error
	sent  int
}

func (f *flaky) Channel() string { return f.name }
func (f *flaky) Publish(context.Context, ticket.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fails) > 0 {
		err := f.fails[0]
		f.fails = f.fails[1:]
		return err
	}
	f.sent++
	return nil
}

type fixture struct {
	store *sqlite.Store
	execs *sqlite.Executions
	svc   *sfnapi.Service
	clock *asl.VirtualClock
}

func newFixture(t *testing.T, chans ...ticket.Publisher) *fixture {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "t.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{store: sqlite.NewStore(db, []byte("k")), execs: sqlite.NewExecutions(db), clock: asl.NewVirtualClock(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))}
	cfg := ticket.DefaultConfig()
	publish := &tasks.Publish{Store: f.store, Config: ticket.StaticConfig(cfg), Channels: func(ticket.Config) []ticket.Publisher { return chans }, Now: f.clock.Now, Log: discard()}
	record := &tasks.Record{Store: f.store, Now: f.clock.Now}
	m, err := statemachine.Load(statemachine.LocalFunctionArn)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	f.svc = sfnapi.New(sfnapi.Config{
		Machines:   []sfnapi.Machine{{Arn: statemachine.LocalStateMachineArn, Definition: m}},
		Invoker:    statemachine.NewTaskInvoker(publish, record),
		Executions: f.execs,
		Log:        discard(),
		Clock:      f.clock,
	})
	t.Cleanup(func() { f.svc.Shutdown(context.Background()) })
	return f
}

// execute runs one execution for tk to its end, started as the embedded server starts them,
// and returns its stored record.
func (f *fixture) execute(t *testing.T, tk *ticket.Ticket) *ticket.Execution {
	t.Helper()
	in := `{"id":"` + tk.ID + `"}`
	x, err := f.svc.StartSync(context.Background(), sfnapi.StartRequest{StateMachineArn: statemachine.LocalStateMachineArn, Name: tk.ID, Input: &in})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.execs.LatestExecution(context.Background(), x.ExecutionArn)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (f *fixture) file(t *testing.T) *ticket.Ticket {
	t.Helper()
	tk := storetest.Make(0, ticket.SeverityCritical)
	if _, _, err := f.store.Create(context.Background(), tk, ticket.Idempotency{}); err != nil {
		t.Fatal(err)
	}
	return tk
}

type event struct {
	Type string `json:"type"`
}

func types(t *testing.T, x *ticket.Execution) []string {
	var out []string
	for _, raw := range x.Events {
		var e event
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Type)
	}
	return out
}

func count(list []string, typ string) int {
	n := 0
	for _, s := range list {
		if s == typ {
			n++
		}
	}
	return n
}

func TestSent(t *testing.T) {
	box := &flaky{name: "outbox"}
	f := newFixture(t, box)
	tk := f.file(t)
	x := f.execute(t, tk)
	if x.Status != "SUCCEEDED" {
		t.Fatalf("execution %s %s %s, want SUCCEEDED", x.Status, x.Error, x.Cause)
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	n := got.Notification
	if n.Status != ticket.NotificationSent || n.Attempts != 1 || n.Channel("outbox") == nil || n.Channel("outbox").Status != ticket.NotificationSent {
		t.Errorf("notification = %+v, want SENT after 1 attempt, delivered to outbox", n)
	}
	if !strings.Contains(n.Execution, ":express:incident-manager-notify:"+tk.ID+":") {
		t.Errorf("execution recorded on the ticket = %q, want the execution ARN", n.Execution)
	}
	ev := types(t, x)
	want := []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
		"ChoiceStateEntered", "ChoiceStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("history\n got %v\nwant %v", ev, want)
	}
}

// TestNoPersonalDataInTheExecution: the workflow carries the ticket ID only; the reporter's
// name, email and description never enter an execution's input, output or history.
func TestNoPersonalDataInTheExecution(t *testing.T) {
	hook := &flaky{name: "webhook:x", fails: []error{&ticket.PermanentError{Err: errors.New("HTTP 404")}}}
	f := newFixture(t, &flaky{name: "outbox"}, hook)
	tk := f.file(t)
	x := f.execute(t, tk)
	if got, want := string(x.Input), `{"id":"`+tk.ID+`"}`; got != want {
		t.Errorf("input %s, want %s", got, want)
	}
	all := string(x.Input) + string(x.Output) + x.Cause + string(joined(x))
	for _, personal := range []string{tk.Reporter.Email, tk.Reporter.Name + "\"", tk.Description, tk.Title} {
		if strings.Contains(all, personal) {
			t.Errorf("the execution holds %q: %s", personal, all)
		}
	}
}

func TestTransientRetriedThenSent(t *testing.T) {
	hook := &flaky{name: "webhook:x", fails: []error{
		&ticket.TransientError{Err: errors.New("503")},
		&ticket.TransientError{Err: errors.New("503")},
	}}
	box := &flaky{name: "outbox"}
	f := newFixture(t, box, hook)
	tk := f.file(t)
	start := f.clock.Now()
	x := f.execute(t, tk)
	if x.Status != "SUCCEEDED" {
		t.Fatalf("execution %s %s %s, want SUCCEEDED", x.Status, x.Error, x.Cause)
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	if got.Notification.Status != ticket.NotificationSent || got.Notification.Attempts != 3 {
		t.Errorf("notification = %+v, want SENT after 3 attempts", got.Notification)
	}
	if box.sent != 1 || hook.sent != 1 {
		t.Errorf("outbox got %d, webhook %d deliveries; want exactly 1 each (no resend on retry)", box.sent, hook.sent)
	}
	ev := types(t, x)
	if n := count(ev, "LambdaFunctionFailed"); n != 2 {
		t.Errorf("%d LambdaFunctionFailed events, want 2: %v", n, ev)
	}
	// FULL jitter: each wait is at most IntervalSeconds*BackoffRate^n (2 s, 4 s).
	if waited := f.clock.Now().Sub(start); waited > 6*time.Second {
		t.Errorf("waited %s in retries, want at most 6s", waited)
	}
	if !strings.Contains(string(joined(x)), `"error":"TransientError"`) {
		t.Errorf("history does not name the TransientError: %s", joined(x))
	}
}

func TestRetryAfterIsAWait(t *testing.T) {
	hook := &flaky{name: "webhook:x", fails: []error{&ticket.TransientError{Err: errors.New("HTTP 429"), RetryAfter: 30 * time.Second}}}
	f := newFixture(t, hook)
	tk := f.file(t)
	start := f.clock.Now()
	x := f.execute(t, tk)
	if x.Status != "SUCCEEDED" || hook.sent != 1 {
		t.Fatalf("execution %s (%s), %d sent; want SUCCEEDED after honouring Retry-After", x.Status, x.Error, hook.sent)
	}
	if waited := f.clock.Now().Sub(start); waited < 30*time.Second || waited > 40*time.Second {
		t.Errorf("waited %s, want the 30 s the receiver asked for", waited)
	}
	if ev := types(t, x); count(ev, "WaitStateEntered") != 1 || count(ev, "LambdaFunctionFailed") != 0 {
		t.Errorf("history %v, want one Wait state and no failed task", ev)
	}
}

func joined(x *ticket.Execution) []byte {
	var b []byte
	for _, e := range x.Events {
		b = append(b, e...)
	}
	return b
}

func TestPermanentFails(t *testing.T) {
	hook := &flaky{name: "webhook:x", fails: []error{&ticket.PermanentError{Err: errors.New("HTTP 400 Bad Request")}}}
	f := newFixture(t, hook)
	tk := f.file(t)
	x := f.execute(t, tk)
	if x.Status != "FAILED" || x.Error != "NotificationFailed" {
		t.Fatalf("execution %s %s, want FAILED NotificationFailed", x.Status, x.Error)
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	if got.Notification.Status != ticket.NotificationFailed || got.Notification.Attempts != 1 || !strings.Contains(got.Notification.LastError, "400 Bad Request") {
		t.Errorf("notification = %+v, want FAILED after 1 attempt with the 400 as lastError", got.Notification)
	}
	ev := types(t, x)
	if ev[len(ev)-1] != "ExecutionFailed" || count(ev, "FailStateEntered") != 1 {
		t.Errorf("history = %v, want a Fail state then ExecutionFailed", ev)
	}
}

func TestPartialFailsAsPartial(t *testing.T) {
	hook := &flaky{name: "webhook:x", fails: []error{&ticket.PermanentError{Err: errors.New("HTTP 410 Gone")}}}
	f := newFixture(t, &flaky{name: "outbox"}, hook)
	tk := f.file(t)
	x := f.execute(t, tk)
	got, _ := f.store.Get(context.Background(), tk.ID)
	if x.Status != "FAILED" || x.Error != "NotificationPartial" || got.Notification.Status != ticket.NotificationPartial {
		t.Errorf("execution %s %s, notification %s; want FAILED NotificationPartial and PARTIAL", x.Status, x.Error, got.Notification.Status)
	}
}

func TestTransientExhausted(t *testing.T) {
	var fails []error
	for i := 0; i < 10; i++ {
		fails = append(fails, &ticket.TransientError{Err: errors.New("connection refused")})
	}
	f := newFixture(t, &flaky{name: "webhook:x", fails: fails})
	tk := f.file(t)
	start := f.clock.Now()
	x := f.execute(t, tk)
	got, _ := f.store.Get(context.Background(), tk.ID)
	if x.Status != "FAILED" || got.Notification.Status != ticket.NotificationFailed || got.Notification.Attempts != 6 {
		t.Errorf("execution %s, notification %+v; want FAILED after 1+5 attempts", x.Status, got.Notification)
	}
	if c := got.Notification.Channel("webhook:x"); c == nil || c.LastError != "connection refused" {
		t.Errorf("channel = %+v, want its last error kept", c)
	}
	// Express executions stop at 5 minutes: the retries must end well before.
	if waited := f.clock.Now().Sub(start); waited > 2*time.Minute {
		t.Errorf("retries took %s of virtual time, want well under the 5 minute Express limit", waited)
	}
}

func TestDuplicateExecutionDoesNotResend(t *testing.T) {
	box := &flaky{name: "outbox"}
	f := newFixture(t, box)
	tk := f.file(t)
	f.execute(t, tk)
	x := f.execute(t, tk)
	if x.Status != "SUCCEEDED" || box.sent != 1 {
		t.Errorf("second execution %s, %d deliveries; want SUCCEEDED and still 1 delivery", x.Status, box.sent)
	}
	all, _ := f.execs.Executions(context.Background(), tk.ID)
	if len(all) != 2 || all[0].ExecutionArn == all[1].ExecutionArn {
		t.Errorf("executions = %d with ARNs %v, want 2 distinct", len(all), all)
	}
}

func TestSubstitutionsCoverDefinition(t *testing.T) {
	placeholders := regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(statemachine.Definition), -1)
	if len(placeholders) == 0 {
		t.Fatal("the definition has no ${...} placeholders")
	}
	for _, p := range placeholders {
		if _, ok := statemachine.Placeholders[p[1]]; !ok {
			t.Errorf("${%s} has no binding", p[1])
		}
	}
}
