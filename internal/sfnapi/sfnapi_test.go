package sfnapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	"github.com/incidentmanager/incidents/internal/ticket"
)

const machineArn = "arn:aws:states:us-east-1:000000000000:stateMachine:greet"

const definition = `{
  "StartAt": "Greet",
  "States": {
    "Greet": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:greet", "ResultPath": "$.greeting", "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.fail", "IsPresent": true}, {"Variable": "$.fail", "BooleanEquals": true}], "Next": "Boom"}], "Default": "Done"},
    "Boom": {"Type": "Fail", "Error": "Greeting.Failed", "Cause": "asked to fail"},
    "Done": {"Type": "Succeed"}
  }
}`

func start(t *testing.T) (*sfn.Client, string) {
	m, err := asl.Parse([]byte(definition))
	if err != nil {
		t.Fatal(err)
	}
	srv := sfnapi.New(sfnapi.Config{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Machines: []sfnapi.Machine{{Arn: machineArn, Definition: m}},
		Invoker: asl.InvokerFunc(func(ctx context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Name string }
			json.Unmarshal(in, &v)
			return json.Marshal("hello " + v.Name)
		}),
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Shutdown(context.Background()) })
	return awstest.SFNClient(hs.URL), hs.URL
}

func wait(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
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

func TestStartDescribeHistory(t *testing.T) {
	c, _ := start(t)
	ctx := context.Background()
	out, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("t-1"), Input: aws.String(`{"Name":"Ada"}`)})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	if !strings.Contains(aws.ToString(out.ExecutionArn), ":express:greet:t-1:") {
		t.Errorf("executionArn %s, want an Express execution ARN", aws.ToString(out.ExecutionArn))
	}
	d := wait(t, c, aws.ToString(out.ExecutionArn))
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"Name":"Ada","greeting":"hello Ada"}` {
		t.Fatalf("execution %s output %s, want SUCCEEDED with the greeting", d.Status, aws.ToString(d.Output))
	}
	if aws.ToString(d.Name) != "t-1" || d.StopDate == nil {
		t.Errorf("name %q stopDate %v", aws.ToString(d.Name), d.StopDate)
	}
	// Same name again: Express does not deduplicate, a second execution starts.
	again, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("t-1"), Input: aws.String(`{"Name":"Bob"}`)})
	if err != nil || aws.ToString(again.ExecutionArn) == aws.ToString(out.ExecutionArn) {
		t.Fatalf("second start with the same name: %v, arn %v", err, again)
	}
	wait(t, c, aws.ToString(again.ExecutionArn))

	var types_ []string
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: out.ExecutionArn, MaxResults: 3})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		for _, e := range page.Events {
			types_ = append(types_, string(e.Type))
		}
	}
	got := strings.Join(types_, ",")
	for _, want := range []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionSucceeded", "ExecutionSucceeded"} {
		if !strings.Contains(got, want) {
			t.Errorf("history %s lacks %s", got, want)
		}
	}
}

func TestFailedExecution(t *testing.T) {
	c, _ := start(t)
	out, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Input: aws.String(`{"fail":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	d := wait(t, c, aws.ToString(out.ExecutionArn))
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "Greeting.Failed" || aws.ToString(d.Cause) != "asked to fail" {
		t.Errorf("execution %s error %q cause %q, want FAILED Greeting.Failed", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

func TestErrors(t *testing.T) {
	c, _ := start(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"ErrStateMachineDoesNotExist", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn + "-nope")})
			return err
		}, "StateMachineDoesNotExist"},
		{"ErrInvalidExecutionInput", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Input: aws.String("{not json")})
			return err
		}, "InvalidExecutionInput"},
		{"ErrInvalidName", func() error {
			_, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("bad name!")})
			return err
		}, "InvalidName"},
		{"ErrExecutionDoesNotExist", func() error {
			_, err := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String("arn:aws:states:us-east-1:000000000000:express:greet:x:y")})
			return err
		}, "ExecutionDoesNotExist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var api smithy.APIError
			if err := tc.call(); !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Errorf("err %v, want %s", err, tc.code)
			}
		})
	}
}

// TestStartSyncExecution speaks the wire protocol directly: the SDK sends this call to a
// "sync-" host prefix, which a 127.0.0.1 endpoint cannot have.
func TestStartSyncExecution(t *testing.T) {
	_, url := start(t)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"stateMachineArn":"`+machineArn+`","input":"{\"Name\":\"Cy\"}"}`))
	req.Header.Set("X-Amz-Target", "AWSStepFunctions.StartSyncExecution")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Status, Output string }
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "SUCCEEDED" || !strings.Contains(out.Output, "hello Cy") {
		t.Errorf("StartSyncExecution = %s, want SUCCEEDED with the greeting", b)
	}
}

const slowDefinition = `{
  "StartAt": "Slow",
  "States": {
    "Slow": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:000000000000:function:slow", "Next": "Later"},
    "Later": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
    "Done": {"Type": "Succeed"}
  }
}`

// TestShutdownLetsTheTaskInProgressFinish: a task call in progress when the service shuts
// down runs to its end (a webhook being posted is answered and recorded, not cut off and sent
// again); the execution then stops at its next state instead of waiting an hour.
func TestShutdownLetsTheTaskInProgressFinish(t *testing.T) {
	m, err := asl.Parse([]byte(slowDefinition))
	if err != nil {
		t.Fatal(err)
	}
	entered, finished := make(chan struct{}), make(chan error, 1)
	store := &memExecutions{}
	svc := sfnapi.New(sfnapi.Config{
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Machines:   []sfnapi.Machine{{Arn: machineArn, Definition: m}},
		Executions: store,
		Invoker: asl.InvokerFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
			close(entered)
			select {
			case <-time.After(300 * time.Millisecond):
				finished <- nil
				return json.RawMessage(`{}`), nil
			case <-ctx.Done():
				finished <- ctx.Err()
				return nil, ctx.Err()
			}
		}),
	})
	out, err := svc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("t-1")})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	if !svc.Active("t-1") {
		t.Error("Active(t-1) = false while it runs")
	}
	start := time.Now()
	if err := svc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Errorf("the task in progress was canceled by the shutdown: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %s, want it to stop at the Wait", d)
	}
	x, err := store.LatestExecution(context.Background(), aws.ToString(out.ExecutionArn))
	if err != nil || x.Status != "ABORTED" {
		t.Errorf("stored execution = %+v, %v; want it saved ABORTED", x, err)
	}
	if svc.Active("t-1") {
		t.Error("Active(t-1) = true after shutdown")
	}
	if _, err := svc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn)}); err == nil {
		t.Error("StartExecution after Shutdown succeeded")
	}
}

func TestQueueLimit(t *testing.T) {
	m, _ := asl.Parse([]byte(slowDefinition))
	block := make(chan struct{})
	svc := sfnapi.New(sfnapi.Config{
		Log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Machines:    []sfnapi.Machine{{Arn: machineArn, Definition: m}},
		Concurrency: 1, QueueSize: 1,
		Invoker: asl.InvokerFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
			<-block
			return nil, errors.New("stop")
		}),
	})
	defer svc.Shutdown(context.Background())
	defer close(block)
	var codes []string
	for i := 0; i < 4; i++ {
		_, err := svc.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn)})
		var api smithy.APIError
		if errors.As(err, &api) {
			codes = append(codes, api.ErrorCode())
		}
		time.Sleep(20 * time.Millisecond) // let the worker take the first
	}
	if len(codes) == 0 || codes[0] != "ExecutionLimitExceeded" {
		t.Errorf("starts beyond the queue answered %v, want ExecutionLimitExceeded", codes)
	}
}

func TestStandardNamesAreUnique(t *testing.T) {
	m, _ := asl.Parse([]byte(definition))
	store := &memExecutions{}
	svc := sfnapi.New(sfnapi.Config{
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		Machines:   []sfnapi.Machine{{Arn: machineArn, Type: sfnapi.Standard, Definition: m}},
		Executions: store,
		Invoker: asl.InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`"hi"`), nil
		}),
	})
	defer svc.Shutdown(context.Background())
	ctx := context.Background()
	first, err := svc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("t-1")})
	if err != nil || !strings.HasSuffix(aws.ToString(first.ExecutionArn), ":execution:greet:t-1") {
		t.Fatalf("start = %v, %v", first, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if d, err := svc.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn}); err == nil && d.Status != types.ExecutionStatusRunning {
			break
		}
	}
	if svc.Active("t-1") {
		t.Error("Active(t-1) = true: it counts Express executions only")
	}
	_, err = svc.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(machineArn), Name: aws.String("t-1")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ExecutionAlreadyExists" {
		t.Errorf("second start of a Standard name = %v, want ExecutionAlreadyExists", err)
	}
}

// memExecutions is a ticket.ExecutionStore in memory.
type memExecutions struct {
	mu   sync.Mutex
	list []*ticket.Execution
}

func (m *memExecutions) SaveExecution(_ context.Context, x *ticket.Execution) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.list = append(m.list, x)
	return nil
}

func (m *memExecutions) Executions(_ context.Context, name string) ([]*ticket.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*ticket.Execution
	for i := len(m.list) - 1; i >= 0; i-- {
		if m.list[i].Name == name {
			out = append(out, m.list[i])
		}
	}
	return out, nil
}

func (m *memExecutions) LatestExecution(_ context.Context, name string) (*ticket.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.list) - 1; i >= 0; i-- {
		if m.list[i].Name == name || m.list[i].ExecutionArn == name {
			return m.list[i], nil
		}
	}
	return nil, ticket.ErrExecutionNotFound
}
