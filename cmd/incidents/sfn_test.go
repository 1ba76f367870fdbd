package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/incidentmanager/incidents/statemachine"
)

// sfnClient is an SDK client for the Step Functions API the server printed it serves.
func sfnClient(t *testing.T, s *server) *sfn.Client {
	t.Helper()
	line := s.Line(t, "Step Functions API on ")
	endpoint, _, _ := strings.Cut(line, " ")
	return sfn.New(sfn.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("x", "x", ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

func waitExecution(t *testing.T, c *sfn.Client, arn string) *sfn.DescribeExecutionOutput {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		out, err := c.DescribeExecution(context.Background(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution: %v", err)
		}
		if out.Status != types.ExecutionStatusRunning {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s still RUNNING after 20s", arn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStepFunctionsAPIInProcess(t *testing.T) {
	s := startServer(t, t.TempDir(), "--sfn-addr", "127.0.0.1:0")
	c := sfnClient(t, s)
	// A ticket filed without starting the workflow: take it from the store via the API, then
	// start its workflow through the Step Functions API, as the AWS create function would.
	tk := s.create(t, "Started through StartExecution")
	s.waitNotification(t, tk.ID, 15*time.Second)
	input, _ := json.Marshal(map[string]string{"id": tk.ID})
	out, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(statemachine.LocalStateMachineArn),
		Name:            aws.String(tk.ID),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	got := waitExecution(t, c, aws.ToString(out.ExecutionArn))
	if got.Status != types.ExecutionStatusSucceeded || aws.ToString(got.Name) != tk.ID {
		t.Errorf("execution = %s %s (%s %s), want SUCCEEDED named after the ticket", got.Status, aws.ToString(got.Name), aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	if _, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{StateMachineArn: aws.String("arn:aws:states:us-east-1:1:stateMachine:nope"), Input: aws.String("{}")}); err == nil || !strings.Contains(err.Error(), "StateMachineDoesNotExist") {
		t.Errorf("StartExecution(unknown machine) = %v, want StateMachineDoesNotExist", err)
	}
}

// lambdaAPI is a Lambda Invoke API that answers for the two task functions.
type lambdaAPI struct {
	mu    sync.Mutex
	calls []string
}

func (l *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions/"), "/invocations")
	body, _ := io.ReadAll(r.Body)
	var in struct {
		TicketID string `json:"ticketId"`
	}
	json.Unmarshal(body, &in)
	l.mu.Lock()
	l.calls = append(l.calls, name+":"+in.TicketID)
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Write([]byte(`{"ticketId":"` + in.TicketID + `","status":"SENT","attempts":1,"sent":["sns:topic"],"failed":[],"waitSeconds":0}`))
}

func TestStepFunctionsAPIWithLambdaEndpoint(t *testing.T) {
	fn := &lambdaAPI{}
	lambdas := httptest.NewServer(fn)
	defer lambdas.Close()
	s := startServer(t, t.TempDir(), "--sfn-addr", "127.0.0.1:0", "--lambda-endpoint", lambdas.URL)
	c := sfnClient(t, s)
	out, err := c.StartExecution(context.Background(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(statemachine.LocalStateMachineArn),
		Name:            aws.String("t-1"),
		Input:           aws.String(`{"id":"t-1"}`),
	})
	if err != nil {
		t.Fatalf("StartExecution: %v", err)
	}
	got := waitExecution(t, c, aws.ToString(out.ExecutionArn))
	if got.Status != types.ExecutionStatusSucceeded {
		t.Fatalf("execution = %s %s %s, want SUCCEEDED", got.Status, aws.ToString(got.Error), aws.ToString(got.Cause))
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	if want := []string{"PublishFunction:t-1"}; strings.Join(fn.calls, ",") != strings.Join(want, ",") {
		t.Errorf("Lambda invocations = %v, want %v", fn.calls, want)
	}
	var res struct {
		ID      string
		Publish struct{ Status string }
	}
	json.Unmarshal([]byte(aws.ToString(got.Output)), &res)
	if res.ID != "t-1" || res.Publish.Status != "SENT" {
		t.Errorf("output = %s, want the ticket ID and Publish's result", aws.ToString(got.Output))
	}
}
