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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/sfnapi"
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
		Machines: map[string]*asl.Machine{machineArn: m},
		Invoker: asl.InvokerFunc(func(ctx context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
			var v struct{ Name string }
			json.Unmarshal(in, &v)
			return json.Marshal("hello " + v.Name)
		}),
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
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
