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
	"github.com/incidentmanager/incidents/internal/ticket"
)

// ServeHTTP serves the Step Functions JSON 1.0 API, dispatching on X-Amz-Target:
// StartExecution, StartSyncExecution, DescribeExecution, GetExecutionHistory, StopExecution,
// ListExecutions, SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat.
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
				var page []json.RawMessage
				var next string
				if page, next, err = s.historyPage(r.Context(), in.ExecutionArn, in.MaxResults, in.NextToken, in.ReverseOrder); err == nil {
					for i, ev := range page {
						page[i] = historyEvent(ev)
					}
					o := map[string]any{"events": page}
					if next != "" {
						o["nextToken"] = next
					}
					out = o
				}
			case "StopExecution":
				var stop time.Time
				if stop, err = s.stopExecution(r.Context(), in.ExecutionArn, deref(in.Error), deref(in.Cause)); err == nil {
					out = map[string]any{"stopDate": epoch(stop)}
				}
			case "ListExecutions":
				var list []*ticket.Execution
				var next string
				if list, next, err = s.listExecutions(r.Context(), in.StateMachineArn, in.StatusFilter, in.MaxResults, in.NextToken); err == nil {
					items := make([]map[string]any, 0, len(list))
					for _, x := range list {
						item := map[string]any{"executionArn": x.ExecutionArn, "stateMachineArn": x.StateMachineArn, "name": x.Name, "status": x.Status, "startDate": epoch(x.StartDate)}
						if x.StopDate != nil {
							item["stopDate"] = epoch(*x.StopDate)
						}
						items = append(items, item)
					}
					o := map[string]any{"executions": items}
					if next != "" {
						o["nextToken"] = next
					}
					out = o
				}
			case "SendTaskSuccess":
				if err = s.sendTaskSuccess(in.TaskToken, deref(in.Output)); err == nil {
					out = struct{}{}
				}
			case "SendTaskFailure":
				if err = s.sendTaskFailure(in.TaskToken, deref(in.Error), deref(in.Cause)); err == nil {
					out = struct{}{}
				}
			case "SendTaskHeartbeat":
				if err = s.sendTaskHeartbeat(in.TaskToken); err == nil {
					out = struct{}{}
				}
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
	StatusFilter    string  `json:"statusFilter"`
	TaskToken       string  `json:"taskToken"`
	Output          *string `json:"output"`
	Error           *string `json:"error"`
	Cause           *string `json:"cause"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
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

// historyPage is a page of an execution's history (events as asl.Event marshals them).
func (s *Service) historyPage(ctx context.Context, arn string, maxResults int, next string, reverse bool) ([]json.RawMessage, string, error) {
	_, events, err := s.lookup(ctx, arn)
	if err != nil {
		return nil, "", err
	}
	events = append([]json.RawMessage(nil), events...)
	if reverse {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	size := maxResults
	if size <= 0 || size > 1000 {
		size = 100
	}
	start := 0
	if next != "" {
		if start, err = strconv.Atoi(next); err != nil || start < 0 || start > len(events) {
			return nil, "", badRequest("InvalidToken", "Invalid Token: '%s'", next)
		}
	}
	end := min(start+size, len(events))
	page := append([]json.RawMessage(nil), events[start:end]...)
	if end < len(events) {
		return page, strconv.Itoa(end), nil
	}
	return page, "", nil
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
