package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
)

var t0 = time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)

// pager is a callback resource: it records each page (virtual time, step, token) and lets the
// test react to it, as a person answering a page would.
type pager struct {
	mu     sync.Mutex
	clock  asl.Clock
	pages  []page
	onPage func(p page)
}

type page struct {
	at    time.Time
	step  int
	token string
	input string
}

func (p *pager) Invoke(_ context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	var in struct {
		Step  int    `json:"step"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, err
	}
	pg := page{at: p.clock.Now(), step: in.Step, token: in.Token, input: string(input)}
	p.mu.Lock()
	p.pages = append(p.pages, pg)
	p.mu.Unlock()
	if p.onPage != nil {
		p.onPage(pg)
	}
	return json.RawMessage(`{"paged":true}`), nil
}

func (p *pager) all() []page {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]page(nil), p.pages...)
}

// callbackDefinition pages once and waits for the acknowledgement.
func callbackDefinition(extra string) string {
	return `{
  "StartAt": "Page",
  "States": {
    "Page": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "page", "Payload": {"step.$": "$.step", "token.$": "$$.Task.Token"}},
      "TimeoutSeconds": 300,` + extra + `
      "ResultPath": "$.ack",
      "Catch": [
        {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.stale", "Next": "Stale"},
        {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "TimedOut"},
        {"ErrorEquals": ["Page.Declined"], "ResultPath": "$.declined", "Next": "Declined"}
      ],
      "End": true
    },
    "Stale": {"Type": "Pass", "End": true},
    "TimedOut": {"Type": "Pass", "End": true},
    "Declined": {"Type": "Pass", "End": true}
  }
}`
}

func eventTypes(ex *asl.Execution) string {
	var out []string
	for _, e := range ex.Events {
		out = append(out, e.Type)
	}
	return strings.Join(out, ",")
}

func findEvent(ex *asl.Execution, typ string) *asl.Event {
	for i := range ex.Events {
		if ex.Events[i].Type == typ {
			return &ex.Events[i]
		}
	}
	return nil
}

func details(e *asl.Event) map[string]any {
	b, _ := json.Marshal(e)
	var back asl.Event
	json.Unmarshal(b, &back)
	m, _ := back.Details.(map[string]any)
	return m
}

func TestCallbackTask(t *testing.T) {
	const started = "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,"
	for _, tc := range []struct {
		name   string
		extra  string
		answer func(tokens *asl.TaskTokens, clock *asl.VirtualClock, p page, cancel context.CancelCauseFunc)
		status string
		output string
		after  time.Duration
		events string
		ended  map[string]any // the details of the event that ended the task
	}{
		{
			name: "OK",
			answer: func(tokens *asl.TaskTokens, clock *asl.VirtualClock, p page, _ context.CancelCauseFunc) {
				clock.AfterFunc(30*time.Second, func() { tokens.SendTaskSuccess(p.token, json.RawMessage(`{"by":"ada"}`)) })
			},
			status: asl.StatusSucceeded, output: `{"step":1,"ack":{"by":"ada"}}`, after: 30 * time.Second,
			events: started + "TaskSucceeded,TaskStateExited,ExecutionSucceeded",
			ended:  map[string]any{"output": `{"by":"ada"}`, "outputDetails": map[string]any{"truncated": false}, "resource": "invoke.waitForTaskToken", "resourceType": "lambda"},
		},
		{
			name: "ErrSendTaskFailure",
			answer: func(tokens *asl.TaskTokens, clock *asl.VirtualClock, p page, _ context.CancelCauseFunc) {
				clock.AfterFunc(45*time.Second, func() { tokens.SendTaskFailure(p.token, "Page.Declined", "on another incident") })
			},
			status: asl.StatusSucceeded, output: `{"step":1,"declined":{"Error":"Page.Declined","Cause":"on another incident"}}`, after: 45 * time.Second,
			events: started + "TaskFailed,TaskStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded",
			ended:  map[string]any{"error": "Page.Declined", "cause": "on another incident", "resource": "invoke.waitForTaskToken", "resourceType": "lambda"},
		},
		{
			name:   "ErrTimeout",
			status: asl.StatusSucceeded, output: `{"step":1,"timeout":{"Error":"States.Timeout","Cause":""}}`, after: 300 * time.Second,
			events: started + "TaskTimedOut,TaskStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded",
			ended:  map[string]any{"error": "States.Timeout", "resource": "invoke.waitForTaskToken", "resourceType": "lambda"},
		},
		{
			name:  "ErrHeartbeatTimeout",
			extra: `"HeartbeatSeconds": 60,`,
			answer: func(tokens *asl.TaskTokens, clock *asl.VirtualClock, p page, _ context.CancelCauseFunc) {
				// Two heartbeats, then silence: the task fails 60 s after the last one.
				clock.AfterFunc(50*time.Second, func() { tokens.SendTaskHeartbeat(p.token) })
				clock.AfterFunc(100*time.Second, func() { tokens.SendTaskHeartbeat(p.token) })
			},
			status: asl.StatusSucceeded, output: `{"step":1,"stale":{"Error":"States.HeartbeatTimeout","Cause":""}}`, after: 160 * time.Second,
			events: started + "TaskTimedOut,TaskStateExited,PassStateEntered,PassStateExited,ExecutionSucceeded",
			ended:  map[string]any{"error": "States.HeartbeatTimeout", "resource": "invoke.waitForTaskToken", "resourceType": "lambda"},
		},
		{
			name: "ErrStopExecution",
			answer: func(tokens *asl.TaskTokens, clock *asl.VirtualClock, p page, cancel context.CancelCauseFunc) {
				clock.AfterFunc(10*time.Second, func() { cancel(&asl.Stop{ErrorName: "Resolved", Cause: "the ticket was resolved"}) })
			},
			status: asl.StatusAborted, after: 10 * time.Second,
			events: started + "ExecutionAborted",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := asl.Parse([]byte(callbackDefinition(tc.extra)))
			if err != nil {
				t.Fatal(err)
			}
			clock := asl.NewVirtualClock(t0)
			tokens := asl.NewTaskTokens()
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			p := &pager{clock: clock}
			p.onPage = func(pg page) {
				if tc.answer != nil {
					tc.answer(tokens, clock, pg, cancel)
				}
			}
			ex := m.Run(ctx, json.RawMessage(`{"step":1}`), asl.RunOptions{Name: "t-1", Invoker: p, Clock: clock, Callbacks: tokens})
			if ex.Status != tc.status || (tc.output != "" && string(ex.Output) != tc.output) {
				t.Fatalf("status %s output %s error %s %s; want %s %s", ex.Status, ex.Output, ex.Error, ex.Cause, tc.status, tc.output)
			}
			if got := eventTypes(ex); got != tc.events {
				t.Errorf("history\n got %s\nwant %s", got, tc.events)
			}
			if got := ex.StopDate.Sub(t0); got != tc.after {
				t.Errorf("ended after %s, want %s (virtual)", got, tc.after)
			}
			pages := p.all()
			if len(pages) != 1 {
				t.Fatalf("paged %d times, want once", len(pages))
			}
			// The token is in $$.Task.Token, and so in the scheduled parameters.
			if sched := details(findEvent(ex, "TaskScheduled")); !strings.Contains(sched["parameters"].(string), pages[0].token) || sched["resource"] != "invoke.waitForTaskToken" {
				t.Errorf("TaskScheduled %v lacks the token %s", sched, pages[0].token)
			}
			if sub := details(findEvent(ex, "TaskSubmitted")); !strings.Contains(sub["output"].(string), `"Payload":{"paged":true}`) {
				t.Errorf("TaskSubmitted output %v, want the Invoke response", sub["output"])
			}
			if tc.ended != nil {
				e := ex.Events[5]
				if got, want := jsonOf(details(&e)), jsonOf(tc.ended); got != want {
					t.Errorf("%s details\n got %s\nwant %s", e.Type, got, want)
				}
			}
			if tc.status == asl.StatusAborted {
				if ex.Error != "Resolved" || ex.Cause != "the ticket was resolved" {
					t.Errorf("aborted with %q %q, want StopExecution's error and cause", ex.Error, ex.Cause)
				}
				if got := jsonOf(details(&ex.Events[len(ex.Events)-1])); got != `{"cause":"the ticket was resolved","error":"Resolved"}` {
					t.Errorf("ExecutionAborted details %s", got)
				}
			}
			// The task is over: its token is refused, whatever is sent with it.
			var te *asl.TokenError
			if err := tokens.SendTaskSuccess(pages[0].token, json.RawMessage(`{}`)); !errors.As(err, &te) || te.Code != asl.CodeTaskTimedOut {
				t.Errorf("SendTaskSuccess after the task = %v, want TaskTimedOut", err)
			}
			if err := tokens.SendTaskHeartbeat(pages[0].token); !errors.As(err, &te) || te.Code != asl.CodeTaskTimedOut {
				t.Errorf("SendTaskHeartbeat after the task = %v, want TaskTimedOut", err)
			}
			if n := len(tokens.Waiting()); n != 0 {
				t.Errorf("%d tokens still open", n)
			}
		})
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestTaskTokenErrors: the first answer wins; the API errors are Step Functions'.
func TestTaskTokenErrors(t *testing.T) {
	m, _ := asl.Parse([]byte(callbackDefinition("")))
	clock := asl.NewVirtualClock(t0)
	tokens := asl.NewTaskTokens()
	var errs []string
	code := func(err error) string {
		var te *asl.TokenError
		if errors.As(err, &te) {
			return te.Code
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	p := &pager{clock: clock}
	p.onPage = func(pg page) {
		if w := tokens.Waiting(); len(w) != 1 || w[0].Token != pg.token || w[0].State != "Page" {
			t.Errorf("Waiting() = %+v, want the page's token", w)
		}
		clock.AfterFunc(time.Second, func() {
			errs = append(errs,
				code(tokens.SendTaskSuccess(pg.token, json.RawMessage(`{not json`))),
				code(tokens.SendTaskSuccess(pg.token, json.RawMessage(`"first"`))),
				code(tokens.SendTaskSuccess(pg.token, json.RawMessage(`"second"`))),
				code(tokens.SendTaskFailure(pg.token, "Late", "")),
				code(tokens.SendTaskSuccess("not-a-token", json.RawMessage(`{}`))),
				code(tokens.SendTaskSuccess(asl.NewTaskToken(asl.CallbackTask{ExecutionArn: "arn:aws:states:local:0:execution:x:gone"}), json.RawMessage(`{}`))),
			)
		})
	}
	ex := m.Run(context.Background(), json.RawMessage(`{"step":1}`), asl.RunOptions{Invoker: p, Clock: clock, Callbacks: tokens})
	if string(ex.Output) != `{"step":1,"ack":"first"}` {
		t.Errorf("output %s, want the first answer", ex.Output)
	}
	want := "InvalidOutput,ok,TaskTimedOut,TaskTimedOut,InvalidToken,TaskDoesNotExist"
	if got := strings.Join(errs, ","); got != want {
		t.Errorf("answers\n got %s\nwant %s", got, want)
	}
}

// TestCallbackRetryNewToken: each attempt of a retried callback task has a token of its own;
// the old one is refused.
func TestCallbackRetryNewToken(t *testing.T) {
	def := strings.Replace(callbackDefinition(""), `"ResultPath": "$.ack",`, `"ResultPath": "$.ack", "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 60, "MaxAttempts": 1}],`, 1)
	m, err := asl.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	clock := asl.NewVirtualClock(t0)
	tokens := asl.NewTaskTokens()
	p := &pager{clock: clock}
	p.onPage = func(pg page) {
		if len(p.all()) == 2 {
			clock.AfterFunc(5*time.Second, func() { tokens.SendTaskSuccess(pg.token, json.RawMessage(`"second page"`)) })
		}
	}
	ex := m.Run(context.Background(), json.RawMessage(`{"step":1}`), asl.RunOptions{Invoker: p, Clock: clock, Callbacks: tokens})
	pages := p.all()
	if ex.Status != asl.StatusSucceeded || len(pages) != 2 || pages[0].token == pages[1].token {
		t.Fatalf("status %s, %d pages, tokens %v", ex.Status, len(pages), pages)
	}
	if got, want := pages[1].at.Sub(t0), 360*time.Second; got != want {
		t.Errorf("second page after %s, want %s (timeout then the retry interval)", got, want)
	}
	var te *asl.TokenError
	if err := tokens.SendTaskSuccess(pages[0].token, json.RawMessage(`{}`)); !errors.As(err, &te) || te.Code != asl.CodeTaskTimedOut {
		t.Errorf("the first attempt's token = %v, want TaskTimedOut", err)
	}
}

// escalation pages step 1, waits for an acknowledgement, then waits and pages step 2: the
// shape of a Standard escalation workflow.
const escalation = `{
  "StartAt": "Init",
  "States": {
    "Init": {"Type": "Pass", "Assign": {"ticket.$": "$.id"}, "Next": "Page1"},
    "Page1": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "page", "Payload": {"step": 1, "ticket.$": "$ticket", "token.$": "$$.Task.Token"}},
      "TimeoutSeconds": 300, "ResultPath": "$.ack",
      "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": null, "Next": "Pause"}],
      "Next": "Acked"
    },
    "Pause": {"Type": "Wait", "Seconds": 600, "Next": "Page2"},
    "Page2": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "page", "Payload": {"step": 2, "ticket.$": "$ticket", "token.$": "$$.Task.Token"}},
      "TimeoutSeconds": 300, "ResultPath": "$.ack", "Next": "Acked"
    },
    "Acked": {"Type": "Succeed"}
  }
}`

// store keeps the latest checkpoint as a database would: as JSON.
type store struct {
	mu      sync.Mutex
	last    []byte
	durable []string // "state/resourceCalled" of the checkpoints asked to be durable
}

func (s *store) save(cp *asl.Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = b
	if cp.Durable {
		called := "false"
		if cp.Entered.ResourceCalled {
			called = "true"
		}
		s.durable = append(s.durable, cp.State+"/"+called)
	}
	return nil
}

func (s *store) load(t *testing.T) *asl.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cp asl.Checkpoint
	if err := json.Unmarshal(s.last, &cp); err != nil {
		t.Fatal(err)
	}
	return &cp
}

// TestCheckpointResume suspends an escalation mid token wait and mid Wait, as a crash would,
// and resumes it from its checkpoints each time with a fresh registry: the timers fire at the
// times they were set for, no page is sent twice, the history's event IDs run on.
func TestCheckpointResume(t *testing.T) {
	m, err := asl.Parse([]byte(escalation))
	if err != nil {
		t.Fatal(err)
	}
	db := &store{}
	p := &pager{}
	run := func(clock *asl.VirtualClock, suspendAt time.Time, resume *asl.Checkpoint, onPage func(*asl.TaskTokens, page)) (*asl.Execution, *asl.TaskTokens) {
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		tokens := asl.NewTaskTokens()
		p.clock = clock
		p.onPage = func(pg page) {
			if onPage != nil {
				onPage(tokens, pg)
			}
		}
		if !suspendAt.IsZero() {
			clock.At(suspendAt, func() { cancel(asl.ErrSuspended) })
		}
		ex := m.Run(ctx, json.RawMessage(`{"id":"T-42"}`), asl.RunOptions{
			Name: "T-42", StateMachineArn: "arn:aws:states:local:0:stateMachine:escalate",
			Invoker: p, Clock: clock, Callbacks: tokens, Checkpoint: db.save, Resume: resume,
		})
		return ex, tokens
	}

	// 1. Page 1 goes out; the process dies 100 s into the wait for its acknowledgement.
	ex, _ := run(asl.NewVirtualClock(t0), t0.Add(100*time.Second), nil, nil)
	if ex.Status != asl.StatusRunning {
		t.Fatalf("suspended execution %s, want RUNNING", ex.Status)
	}
	cp := db.load(t)
	if cp.State != "Page1" || cp.Entered == nil || !cp.Entered.ResourceCalled || cp.Entered.Token != p.all()[0].token {
		t.Fatalf("checkpoint at %s %+v, want Page1 waiting on the page's token", cp.State, cp.Entered)
	}
	if got := strings.Join(db.durable, ","); got != "Page1/false,Page1/true" {
		t.Errorf("durable checkpoints %s, want the two around the page", got)
	}

	// 2. Restarted: the wait goes on; page 1 times out at 300 s as set; the process dies again
	// 200 s into the 600 s Wait.
	ex, tokens := run(asl.NewVirtualClock(t0.Add(100*time.Second)), t0.Add(500*time.Second), cp, nil)
	if ex.Status != asl.StatusRunning || len(p.all()) != 1 {
		t.Fatalf("second run %s with %d pages, want RUNNING and page 1 not sent again", ex.Status, len(p.all()))
	}
	if timedOut := findEvent(ex, "TaskTimedOut"); timedOut == nil || !timedOut.Timestamp.Equal(t0.Add(300*time.Second)) {
		t.Errorf("TaskTimedOut %+v, want it at 300 s", timedOut)
	}
	var te *asl.TokenError
	tokens.ExecutionExists = func(string) bool { return true }
	if err := tokens.SendTaskSuccess(p.all()[0].token, json.RawMessage(`{}`)); !errors.As(err, &te) || te.Code != asl.CodeTaskTimedOut {
		t.Errorf("page 1's token after its timeout = %v, want TaskTimedOut", err)
	}
	cp = db.load(t)
	if cp.State != "Pause" || cp.Entered == nil || !cp.Entered.WakeAt.Equal(t0.Add(900*time.Second)) {
		t.Fatalf("checkpoint at %s %+v, want Pause waking at 900 s", cp.State, cp.Entered)
	}

	// 3. Restarted again: page 2 goes out when the Wait ends, at 900 s, once; it is acknowledged.
	ex, _ = run(asl.NewVirtualClock(t0.Add(500*time.Second)), time.Time{}, cp, func(tokens *asl.TaskTokens, pg page) {
		tokens.SendTaskSuccess(pg.token, json.RawMessage(`{"by":"ada"}`))
	})
	pages := p.all()
	if ex.Status != asl.StatusSucceeded || len(pages) != 2 {
		t.Fatalf("third run %s %s %s with %d pages, want SUCCEEDED after 2", ex.Status, ex.Error, ex.Cause, len(pages))
	}
	if pages[1].step != 2 || !pages[1].at.Equal(t0.Add(900*time.Second)) || !strings.Contains(pages[1].input, `"ticket":"T-42"`) {
		t.Errorf("page 2 = %+v, want step 2 at 900 s for ticket T-42 (the variable survived)", pages[1])
	}
	want := "ExecutionStarted,PassStateEntered,PassStateExited,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskTimedOut,TaskStateExited," +
		"WaitStateEntered,WaitStateExited,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded,TaskStateExited,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded"
	if got := eventTypes(ex); got != want {
		t.Errorf("history\n got %s\nwant %s", got, want)
	}
	for i, e := range ex.Events {
		// AWS chains the first state's entry to event 0, not to ExecutionStarted.
		if e.ID != int64(i+1) || (i > 1 && e.PreviousEventID != int64(i)) {
			t.Errorf("event %d is #%d after #%d, want #%d after #%d", i, e.ID, e.PreviousEventID, i+1, i)
		}
	}
	if string(ex.Output) != `{"id":"T-42","ack":{"by":"ada"}}` || !ex.StartDate.Equal(t0) {
		t.Errorf("output %s start %s", ex.Output, ex.StartDate)
	}
}

// TestResumeBeforeTheResourceReturned: a crash while the resource was being called (the
// checkpoint says it was not called yet) calls it again, with the same token, so a page
// already out is answered and a duplicate can be told by its token.
func TestResumeBeforeTheResourceReturned(t *testing.T) {
	m, _ := asl.Parse([]byte(escalation))
	var before *asl.Checkpoint
	db := &store{}
	save := func(cp *asl.Checkpoint) error {
		if cp.Durable && !cp.Entered.ResourceCalled && before == nil {
			b, _ := json.Marshal(cp)
			before = &asl.Checkpoint{}
			json.Unmarshal(b, before)
		}
		return db.save(cp)
	}
	clock := asl.NewVirtualClock(t0)
	p := &pager{clock: clock}
	tokens := asl.NewTaskTokens()
	p.onPage = func(pg page) { tokens.SendTaskSuccess(pg.token, json.RawMessage(`"ok"`)) }
	first := m.Run(context.Background(), json.RawMessage(`{"id":"T-1"}`), asl.RunOptions{Invoker: p, Clock: clock, Callbacks: tokens, Checkpoint: save})
	if first.Status != asl.StatusSucceeded || before == nil {
		t.Fatalf("first run %s, checkpoint before the page %v", first.Status, before)
	}
	again := m.Run(context.Background(), nil, asl.RunOptions{Invoker: p, Clock: clock, Callbacks: tokens, Checkpoint: db.save, Resume: before})
	pages := p.all()
	if len(pages) != 2 || pages[0].token != pages[1].token {
		t.Fatalf("pages %+v, want the page sent again with the same token", pages)
	}
	if again.Status != asl.StatusSucceeded || string(again.Output) != string(first.Output) {
		t.Errorf("resumed run %s %s, want it acknowledged like the first", again.Status, again.Output)
	}

	// An answer taken for the token before the crash proves the page went out: resumed, the
	// task takes the answer and does not page again.
	tokens = asl.NewTaskTokens()
	tokens.Answered(before.Entered.Token, asl.CallbackSignal{Kind: asl.SignalSuccess, Output: json.RawMessage(`"ok"`)})
	third := m.Run(context.Background(), nil, asl.RunOptions{Invoker: p, Clock: clock, Callbacks: tokens, Checkpoint: db.save, Resume: before})
	if n := len(p.all()); n != 2 || third.Status != asl.StatusSucceeded {
		t.Errorf("resumed with its answer: %s after %d pages, want SUCCEEDED without a third", third.Status, n)
	}
}

// TestCheckpointFailureSuspends: a checkpoint that cannot be stored stops the execution where
// the last one left it, instead of running on without durability.
func TestCheckpointFailureSuspends(t *testing.T) {
	m, _ := asl.Parse([]byte(escalation))
	clock := asl.NewVirtualClock(t0)
	p := &pager{clock: clock}
	n := 0
	ex := m.Run(context.Background(), json.RawMessage(`{"id":"T-1"}`), asl.RunOptions{Invoker: p, Clock: clock, Checkpoint: func(cp *asl.Checkpoint) error {
		if n++; n == 3 {
			return errors.New("disk full")
		}
		return nil
	}})
	// Checkpoints: before Init, before Page1, then the one before the page fails.
	if ex.Status != asl.StatusRunning || len(p.all()) != 0 {
		t.Errorf("status %s with %d pages, want RUNNING and no page sent", ex.Status, len(p.all()))
	}
	if got := eventTypes(ex); got != "ExecutionStarted,PassStateEntered,PassStateExited" {
		t.Errorf("history %s, want it cut back to the last checkpoint", got)
	}
}

// TestVirtualClockAt: timers run in time order while a Sleep passes them, and one that cancels
// the sleeper wakes it at its time.
func TestVirtualClockAt(t *testing.T) {
	clock := asl.NewVirtualClock(t0)
	var got []string
	ctx, cancel := context.WithCancel(context.Background())
	clock.At(t0.Add(20*time.Second), func() { got = append(got, "20") })
	clock.At(t0.Add(10*time.Second), func() { got = append(got, "10") })
	clock.At(t0.Add(30*time.Second), func() { got = append(got, "30"); cancel() })
	clock.At(t0.Add(40*time.Second), func() { got = append(got, "40") })
	if err := clock.Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want canceled", err)
	}
	if now := clock.Now(); !now.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("woke at %s, want 30 s", now.Sub(t0))
	}
	clock.Advance(time.Minute)
	if strings.Join(got, ",") != "10,20,30,40" {
		t.Errorf("timers ran %v", got)
	}
}

// TestCallbackRealClock: on wall-clock time an answer from another goroutine wakes the task at
// once, and a StopExecution ends the wait at once.
func TestCallbackRealClock(t *testing.T) {
	m, _ := asl.Parse([]byte(callbackDefinition("")))
	for _, stop := range []bool{false, true} {
		tokens := asl.NewTaskTokens()
		ctx, cancel := context.WithCancelCause(context.Background())
		p := &pager{clock: asl.RealClock}
		p.onPage = func(pg page) {
			go func() {
				time.Sleep(20 * time.Millisecond)
				if stop {
					cancel(&asl.Stop{ErrorName: "Resolved"})
				} else {
					tokens.SendTaskSuccess(pg.token, json.RawMessage(`"ack"`))
				}
			}()
		}
		start := time.Now()
		ex := m.Run(ctx, json.RawMessage(`{"step":1}`), asl.RunOptions{Invoker: p, Callbacks: tokens})
		cancel(nil)
		want := asl.StatusSucceeded
		if stop {
			want = asl.StatusAborted
		}
		if ex.Status != want || time.Since(start) > 2*time.Second {
			t.Errorf("stop=%v: %s after %s, want %s at once", stop, ex.Status, time.Since(start), want)
		}
	}
}

// TestCallbackInParallel: a callback task in a Parallel branch works (it is not checkpointed:
// a resumed execution runs the Parallel state again).
func TestCallbackInParallel(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
		{"StartAt":"Page","States":{"Page":{"Type":"Task","Resource":"arn:aws:states:::sns:publish.waitForTaskToken",
			"Parameters":{"TopicArn":"arn:aws:sns:us-east-1:0:oncall","Message":{"step":1,"token.$":"$$.Task.Token"}},"End":true}}},
		{"StartAt":"Other","States":{"Other":{"Type":"Pass","Result":"x","End":true}}}]}}}`
	m, err := asl.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	clock := asl.NewVirtualClock(t0)
	tokens := asl.NewTaskTokens()
	var resources []string
	inv := asl.InvokerFunc(func(_ context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
		resources = append(resources, resource)
		var msg struct{ Message struct{ Token string } }
		json.Unmarshal(in, &msg)
		clock.AfterFunc(time.Minute, func() { tokens.SendTaskSuccess(msg.Message.Token, json.RawMessage(`"ack"`)) })
		return json.RawMessage(`{"MessageId":"m-1"}`), nil
	})
	ex := m.Run(context.Background(), json.RawMessage(`{}`), asl.RunOptions{Invoker: inv, Clock: clock, Callbacks: tokens, Checkpoint: func(*asl.Checkpoint) error { return nil }})
	if ex.Status != asl.StatusSucceeded || string(ex.Output) != `["ack","x"]` {
		t.Fatalf("status %s output %s %s %s", ex.Status, ex.Output, ex.Error, ex.Cause)
	}
	if len(resources) != 1 || resources[0] != "arn:aws:states:::sns:publish.waitForTaskToken" {
		t.Errorf("resources called %v", resources)
	}
	if d := details(findEvent(ex, "TaskSubmitted")); d["resourceType"] != "sns" || d["resource"] != "publish.waitForTaskToken" {
		t.Errorf("TaskSubmitted %v", d)
	}
}
