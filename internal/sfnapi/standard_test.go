package sfnapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/sqlite"
)

const escalateArn = "arn:aws:states:us-east-1:000000000000:stateMachine:escalate"

// escalateDefinition is a small Standard escalation: page step 1 and wait for the
// acknowledgement (timeout1 s), then wait (pause s) and page step 2.
func escalateDefinition(timeout1, pause int) string {
	return `{
  "StartAt": "Page1",
  "States": {
    "Page1": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "page", "Payload": {"step": 1, "ticket.$": "$.id", "token.$": "$$.Task.Token"}},
      "TimeoutSeconds": ` + itoa(timeout1) + `, "ResultPath": "$.ack",
      "Catch": [
        {"ErrorEquals": ["Page.Declined"], "ResultPath": "$.declined", "Next": "Declined"},
        {"ErrorEquals": ["States.Timeout"], "ResultPath": null, "Next": "Pause"}
      ],
      "Next": "Acked"
    },
    "Pause": {"Type": "Wait", "Seconds": ` + itoa(pause) + `, "Next": "Page2"},
    "Page2": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
      "Parameters": {"FunctionName": "page", "Payload": {"step": 2, "ticket.$": "$.id", "token.$": "$$.Task.Token"}},
      "TimeoutSeconds": 60, "ResultPath": "$.ack", "Next": "Acked"
    },
    "Declined": {"Type": "Fail", "Error": "Declined"},
    "Acked": {"Type": "Succeed"}
  }
}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// pages is the page resource: each page's step and token go to the test.
type pages struct {
	mu  sync.Mutex
	all []pageSent
	ch  chan pageSent
}

type pageSent struct {
	Step   int       `json:"step"`
	Ticket string    `json:"ticket"`
	Token  string    `json:"token"`
	At     time.Time `json:"at"`
}

func newPages() *pages { return &pages{ch: make(chan pageSent, 16)} }

func (p *pages) Invoke(_ context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
	if resource != "page" {
		return json.RawMessage(`"not a page"`), nil
	}
	var pg pageSent
	if err := json.Unmarshal(in, &pg); err != nil {
		return nil, err
	}
	pg.At = time.Now()
	p.mu.Lock()
	p.all = append(p.all, pg)
	p.mu.Unlock()
	p.ch <- pg
	return json.RawMessage(`{"paged":true}`), nil
}

func (p *pages) next(t *testing.T) pageSent {
	t.Helper()
	select {
	case pg := <-p.ch:
		return pg
	case <-time.After(10 * time.Second):
		t.Fatal("no page within 10 s")
		return pageSent{}
	}
}

func (p *pages) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openDB(t *testing.T, path string) (*sqlite.DB, *sqlite.Executions) {
	t.Helper()
	db, err := sqlite.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db, sqlite.NewExecutions(db)
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func waitStatus(t *testing.T, c interface {
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		if d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallbacksThroughSDK drives a Standard execution's task token through the real AWS SDK
// client against the JSON 1.0 API, with the executions in SQLite.
func TestCallbacksThroughSDK(t *testing.T) {
	m, err := asl.Parse([]byte(escalateDefinition(60, 1)))
	if err != nil {
		t.Fatal(err)
	}
	db, x := openDB(t, filepath.Join(t.TempDir(), "incidents.db"))
	defer db.Close()
	p := newPages()
	greet, _ := asl.Parse([]byte(definition))
	svc := sfnapi.New(sfnapi.Config{
		Log:      quiet(),
		Machines: []sfnapi.Machine{{Arn: escalateArn, Type: sfnapi.Standard, Definition: m}, {Arn: machineArn, Definition: greet}},
		Invoker:  p, Executions: x, Checkpoints: x,
	})
	hs := httptest.NewServer(svc)
	defer svc.Shutdown(context.Background())
	defer hs.Close()
	c := awstest.SFNClient(hs.URL)
	ctx := context.Background()

	// Acknowledged: heartbeat, then success; the token is refused afterwards.
	started, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-1"), Input: aws.String(`{"id":"T-1"}`)})
	if err != nil || !strings.HasSuffix(aws.ToString(started.ExecutionArn), ":execution:escalate:T-1") {
		t.Fatalf("StartExecution = %v, %v", started, err)
	}
	pg := p.next(t)
	if pg.Step != 1 || pg.Ticket != "T-1" || pg.Token == "" {
		t.Fatalf("page %+v", pg)
	}
	if _, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(pg.Token)}); err != nil {
		t.Errorf("SendTaskHeartbeat: %v", err)
	}
	if _, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`{"by":"ada"}`)}); err != nil {
		t.Fatalf("SendTaskSuccess: %v", err)
	}
	d := waitStatus(t, c, aws.ToString(started.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"id":"T-1","ack":{"by":"ada"}}` {
		t.Fatalf("execution %s output %s", d.Status, aws.ToString(d.Output))
	}
	_, err = c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`{}`)})
	var timedOut *types.TaskTimedOut
	if !errors.As(err, &timedOut) {
		t.Errorf("SendTaskSuccess with a used token = %v, want TaskTimedOut", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"ErrInvalidToken", func() error {
			_, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("bogus"), Output: aws.String(`{}`)})
			return err
		}(), "InvalidToken"},
		{"ErrTaskDoesNotExist", func() error {
			tok := asl.NewTaskToken(asl.CallbackTask{ExecutionArn: strings.Replace(escalateArn, ":stateMachine:", ":execution:", 1) + ":never"})
			_, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(tok)})
			return err
		}(), "TaskDoesNotExist"},
		{"ErrTaskTimedOutHeartbeat", func() error {
			_, err := c.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(pg.Token)})
			return err
		}(), "TaskTimedOut"},
		{"ErrExecutionAlreadyExists", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-1"), Input: aws.String(`{"id":"T-1"}`)})
			return err
		}(), "ExecutionAlreadyExists"},
		{"ErrExecutionDoesNotExist", func() error {
			_, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(strings.Replace(escalateArn, ":stateMachine:", ":execution:", 1) + ":never")})
			return err
		}(), "ExecutionDoesNotExist"},
		{"ErrListExpress", func() error {
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(machineArn)})
			return err
		}(), "StateMachineTypeNotSupported"},
		{"ErrStopExpress", func() error {
			x, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Input: aws.String(`{"Name":"x"}`)})
			if err != nil {
				return err
			}
			_, err = c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: x.ExecutionArn})
			return err
		}(), "ValidationException"},
		{"ErrListUnknownMachine", func() error {
			_, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(escalateArn + "-nope")})
			return err
		}(), "StateMachineDoesNotExist"},
	} {
		if got := apiCode(tc.err); got != tc.code {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.code)
		}
	}

	// History through the SDK's own types.
	h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: started.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range h.Events {
		kinds = append(kinds, string(e.Type))
		if e.Type == types.HistoryEventTypeTaskSubmitted && (e.TaskSubmittedEventDetails == nil || aws.ToString(e.TaskSubmittedEventDetails.Resource) != "invoke.waitForTaskToken") {
			t.Errorf("TaskSubmitted details %+v", e.TaskSubmittedEventDetails)
		}
		if e.Type == types.HistoryEventTypeTaskSucceeded && aws.ToString(e.TaskSucceededEventDetails.Output) != `{"by":"ada"}` {
			t.Errorf("TaskSucceeded output %s", aws.ToString(e.TaskSucceededEventDetails.Output))
		}
	}
	if got, want := strings.Join(kinds, ","), "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded,TaskStateExited,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded"; got != want {
		t.Errorf("history\n got %s\nwant %s", got, want)
	}

	// Declined: SendTaskFailure is caught by its name.
	declined, _ := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-2"), Input: aws.String(`{"id":"T-2"}`)})
	pg = p.next(t)
	if _, err := c.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(pg.Token), Error: aws.String("Page.Declined"), Cause: aws.String("busy")}); err != nil {
		t.Fatal(err)
	}
	if d := waitStatus(t, c, aws.ToString(declined.ExecutionArn)); d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Declined" {
		t.Errorf("declined execution %s %s", d.Status, aws.ToString(d.Error))
	}

	// Stopped while it waits for the acknowledgement.
	stopped, _ := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-3"), Input: aws.String(`{"id":"T-3"}`)})
	pg = p.next(t)
	running, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(escalateArn), StatusFilter: types.ExecutionStatusRunning})
	if err != nil || len(running.Executions) != 1 || aws.ToString(running.Executions[0].Name) != "T-3" {
		t.Errorf("ListExecutions RUNNING = %+v, %v; want T-3", running, err)
	}
	stop, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: stopped.ExecutionArn, Error: aws.String("Resolved"), Cause: aws.String("the ticket was resolved")})
	if err != nil || stop.StopDate == nil {
		t.Fatalf("StopExecution = %v, %v", stop, err)
	}
	d, _ = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: stopped.ExecutionArn})
	if d.Status != types.ExecutionStatusAborted || aws.ToString(d.Error) != "Resolved" || aws.ToString(d.Cause) != "the ticket was resolved" {
		t.Errorf("stopped execution %s %q %q", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if got := apiCode(func() error {
		_, err := c.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`{}`)})
		return err
	}()); got != "TaskTimedOut" {
		t.Errorf("token of a stopped execution: %s, want TaskTimedOut", got)
	}
	var statuses []string
	pager := sfn.NewListExecutionsPaginator(c, &sfn.ListExecutionsInput{StateMachineArn: aws.String(escalateArn), MaxResults: 2})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Executions {
			statuses = append(statuses, aws.ToString(e.Name)+":"+string(e.Status))
		}
	}
	if got, want := strings.Join(statuses, ","), "T-3:ABORTED,T-2:FAILED,T-1:SUCCEEDED"; got != want {
		t.Errorf("ListExecutions\n got %s\nwant %s", got, want)
	}
	if p.count() != 3 {
		t.Errorf("%d pages, want one per execution", p.count())
	}
}

// TestInProcessCalls: the Service answers the new calls in process, shaped like the SDK's.
func TestInProcessCalls(t *testing.T) {
	m, _ := asl.Parse([]byte(escalateDefinition(60, 1)))
	p := newPages()
	svc := sfnapi.New(sfnapi.Config{Log: quiet(), Machines: []sfnapi.Machine{{Arn: escalateArn, Type: sfnapi.Standard, Definition: m}}, Invoker: p})
	defer svc.Shutdown(context.Background())
	// The calls the embedded server makes, as a Lambda makes them with *sfn.Client.
	var client interface {
		StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
		SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
		SendTaskFailure(context.Context, *sfn.SendTaskFailureInput, ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
		SendTaskHeartbeat(context.Context, *sfn.SendTaskHeartbeatInput, ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error)
		StopExecution(context.Context, *sfn.StopExecutionInput, ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
		ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
		DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
		GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	} = svc
	if _, isSDK := any(&sfn.Client{}).(interface {
		SendTaskSuccess(context.Context, *sfn.SendTaskSuccessInput, ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	}); !isSDK {
		t.Fatal("the SDK client does not have the same method")
	}
	ctx := context.Background()
	started, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-1"), Input: aws.String(`{"id":"T-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	pg := p.next(t)
	if _, err := client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(pg.Token)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`not json`)}); apiCode(err) != "InvalidOutput" {
		t.Errorf("invalid output: %s, want InvalidOutput", apiCode(err))
	}
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`"ok"`)}); err != nil {
		t.Fatal(err)
	}
	d := waitStatus(t, client, aws.ToString(started.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("status %s", d.Status)
	}
	h, err := client.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: started.ExecutionArn, ReverseOrder: true, MaxResults: 1})
	if err != nil || len(h.Events) != 1 || h.Events[0].Type != types.HistoryEventTypeExecutionSucceeded || h.NextToken == nil || h.Events[0].Timestamp == nil {
		t.Errorf("history page = %+v, %v", h, err)
	}
	list, err := client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(escalateArn)})
	if err != nil || len(list.Executions) != 1 || list.Executions[0].Status != types.ExecutionStatusSucceeded {
		t.Errorf("ListExecutions = %+v, %v", list, err)
	}
	if _, err := client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(pg.Token)}); apiCode(err) != "TaskTimedOut" {
		t.Errorf("SendTaskFailure after success: %s", apiCode(err))
	}
	stop, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: started.ExecutionArn})
	if err != nil || stop.StopDate == nil || !stop.StopDate.Equal(*d.StopDate) {
		t.Errorf("StopExecution of an ended execution = %+v, %v; want its stop date, unchanged", stop, err)
	}
}

// failingAfterAnswer is SQLite whose checkpoints fail once a task answer is stored: the
// process "dies" between taking an acknowledgement and its next checkpoint.
type failingAfterAnswer struct {
	*sqlite.Executions
	mu       sync.Mutex
	answered bool
}

func (f *failingAfterAnswer) SaveTaskAnswer(ctx context.Context, arn, token string, answer []byte) error {
	err := f.Executions.SaveTaskAnswer(ctx, arn, token, answer)
	f.mu.Lock()
	f.answered = err == nil
	f.mu.Unlock()
	return err
}

func (f *failingAfterAnswer) SaveCheckpoint(ctx context.Context, arn string, cp []byte, durable bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answered {
		return errors.New("disk unplugged")
	}
	return f.Executions.SaveCheckpoint(ctx, arn, cp, durable)
}

// TestAcknowledgementSurvivesCrash: an acknowledgement the sender was told was taken is not
// lost when the process dies before the execution's next checkpoint: the resumed execution
// takes it and does not page again.
func TestAcknowledgementSurvivesCrash(t *testing.T) {
	m, _ := asl.Parse([]byte(escalateDefinition(60, 1)))
	path := filepath.Join(t.TempDir(), "incidents.db")
	db, x := openDB(t, path)
	p := newPages()
	broken := &failingAfterAnswer{Executions: x}
	svc := sfnapi.New(sfnapi.Config{Log: quiet(), Machines: []sfnapi.Machine{{Arn: escalateArn, Type: sfnapi.Standard, Definition: m}}, Invoker: p, Executions: x, Checkpoints: broken})
	ctx := context.Background()
	started, err := svc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-1"), Input: aws.String(`{"id":"T-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	pg := p.next(t)
	if _, err := svc.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pg.Token), Output: aws.String(`{"by":"ada"}`)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the execution tries its next checkpoint, which fails
	if err := svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, x = openDB(t, path)
	defer db.Close()
	svc = sfnapi.New(sfnapi.Config{Log: quiet(), Machines: []sfnapi.Machine{{Arn: escalateArn, Type: sfnapi.Standard, Definition: m}}, Invoker: p, Executions: x, Checkpoints: x})
	defer svc.Shutdown(ctx)
	if n, err := svc.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("Resume = %d, %v; want the execution", n, err)
	}
	d := waitStatus(t, svc, aws.ToString(started.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"id":"T-1","ack":{"by":"ada"}}` {
		t.Errorf("resumed execution %s %s, want it acknowledged", d.Status, aws.ToString(d.Output))
	}
	if p.count() != 1 {
		t.Errorf("%d pages, want 1", p.count())
	}
}
