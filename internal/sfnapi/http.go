package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
)

// ServeHTTP serves the Step Functions JSON 1.0 API, dispatching on X-Amz-Target:
// StartExecution, StartSyncExecution, DescribeExecution and GetExecutionHistory.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	var (
		out any
		err error
	)
	if r.Method != http.MethodPost || !ok {
		err = badRequest("UnknownOperationException", "unsupported request %s %q", r.Method, target)
	} else {
		var in request
		if derr := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); derr != nil {
			err = badRequest("SerializationException", "the request body is not valid JSON: %v", derr)
		} else {
			switch op {
			case "StartExecution":
				var st Started
				if st, err = s.Start(in.start()); err == nil {
					out = map[string]any{"executionArn": st.ExecutionArn, "startDate": epoch(st.StartDate)}
				}
			case "StartSyncExecution":
				var x *asl.Execution
				if x, err = s.StartSync(r.Context(), in.start()); err == nil {
					o := describeOutput(*x)
					o["billingDetails"] = map[string]any{"billedDurationInMilliseconds": 100, "billedMemoryUsedInMB": 64}
					out = o
				}
			case "DescribeExecution":
				var x asl.Execution
				if x, _, err = s.lookup(r.Context(), in.ExecutionArn); err == nil {
					out = describeOutput(x)
				}
			case "GetExecutionHistory":
				out, err = s.history(r.Context(), in)
			default:
				err = badRequest("UnknownOperationException", "operation %s is not supported locally", op)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	var ae *apiError
	if errors.As(err, &ae) {
		w.WriteHeader(ae.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": ae.code, "message": ae.msg})
		return
	}
	if err != nil {
		s.c.Log.ErrorContext(r.Context(), "sfnapi", "op", op, "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"__type": "InternalFailure", "message": "internal error"})
		return
	}
	json.NewEncoder(w).Encode(out)
}

type request struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	ExecutionArn    string  `json:"executionArn"`
	MaxResults      int     `json:"maxResults"`
	NextToken       string  `json:"nextToken"`
	ReverseOrder    bool    `json:"reverseOrder"`
}

func (r request) start() StartRequest {
	return StartRequest{StateMachineArn: r.StateMachineArn, Name: r.Name, Input: r.Input}
}

func describeOutput(e asl.Execution) map[string]any {
	out := map[string]any{
		"executionArn": e.ExecutionArn, "stateMachineArn": e.StateMachineArn, "name": e.Name,
		"status": e.Status, "startDate": epoch(e.StartDate),
		"input": string(e.Input), "inputDetails": map[string]bool{"included": true},
	}
	if !e.StopDate.IsZero() {
		out["stopDate"] = epoch(e.StopDate)
	}
	if e.Status == asl.StatusSucceeded {
		out["output"] = string(e.Output)
		out["outputDetails"] = map[string]bool{"included": true}
	}
	if e.Error != "" {
		out["error"] = e.Error
	}
	if e.Cause != "" {
		out["cause"] = e.Cause
	}
	return out
}

func (s *Service) history(ctx context.Context, in request) (any, error) {
	_, events, err := s.lookup(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	events = append([]json.RawMessage(nil), events...)
	if in.ReverseOrder {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	size := in.MaxResults
	if size <= 0 || size > 1000 {
		size = 100
	}
	start := 0
	if in.NextToken != "" {
		if start, err = strconv.Atoi(in.NextToken); err != nil || start < 0 || start > len(events) {
			return nil, badRequest("InvalidToken", "Invalid Token: '%s'", in.NextToken)
		}
	}
	end := min(start+size, len(events))
	page := make([]json.RawMessage, 0, end-start)
	for _, ev := range events[start:end] {
		page = append(page, historyEvent(ev))
	}
	out := map[string]any{"events": page}
	if end < len(events) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

// historyEvent rewrites the event's RFC 3339 timestamp as JSON 1.0's epoch seconds.
func historyEvent(b []byte) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	if ts, ok := m["timestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			m["timestamp"] = epoch(t)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return b
	}
	return out
}

// epoch is a JSON 1.0 timestamp: seconds since the epoch, with milliseconds.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
