package awstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// SFN is a fake of Step Functions' StartExecution (JSON 1.0) that records what it was asked
// to start and runs nothing; internal/sfnapi is the local API that really runs workflows.
type SFN struct {
	URL  string
	mu   sync.Mutex
	runs []StartedExecution
	fail atomic.Int32
}

// StartedExecution is one recorded StartExecution request.
type StartedExecution struct {
	StateMachineArn, Name, Input, ExecutionArn string
}

// StartSFN serves the fake on 127.0.0.1.
func StartSFN(t testing.TB) *SFN {
	t.Helper()
	f := &SFN{}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// FailNext makes the next StartExecution answer as AWS does under load: HTTP 400
// ThrottlingException.
func (f *SFN) FailNext() { f.fail.Add(1) }

// Started returns the executions started so far.
func (f *SFN) Started() []StartedExecution {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]StartedExecution(nil), f.runs...)
}

// SFNClient returns a Step Functions client for a stand-in.
func SFNClient(endpoint string) *sfn.Client { return sfn.NewFromConfig(Config(endpoint)) }

func (f *SFN) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if r.Header.Get("X-Amz-Target") != "AWSStepFunctions.StartExecution" {
		jsonError(w, http.StatusBadRequest, "UnknownOperationException", r.Header.Get("X-Amz-Target"))
		return
	}
	if take(&f.fail) {
		jsonError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	var in struct{ StateMachineArn, Name, Input string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		jsonError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	arn := "arn:aws:states:" + Region + ":000000000000:express:notify:" + in.Name + ":0001"
	f.mu.Lock()
	f.runs = append(f.runs, StartedExecution{in.StateMachineArn, in.Name, in.Input, arn})
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"executionArn": arn, "startDate": float64(time.Now().UnixMilli()) / 1000})
}
