// Package sfnapi serves the Step Functions API locally: the JSON 1.0 calls StartExecution,
// StartSyncExecution, DescribeExecution and GetExecutionHistory, answered by the local ASL
// engine. It is what the create Lambda's real SDK client talks to when the AWS path runs on
// one machine (AWS_ENDPOINT_URL_SFN pointing here), so the same Starter code is exercised.
//
// Executions behave like Express ones: names are not deduplicated, every start gets a fresh
// ARN, and the history is kept in memory (and, when configured, in a ticket.ExecutionStore).
package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// Config wires the server.
type Config struct {
	// Machines maps each state machine ARN to its parsed (substituted) definition.
	Machines map[string]*asl.Machine
	// Invoker runs Task states (lambdainvoke for real Lambda ARNs).
	Invoker asl.Invoker
	// Executions, if set, also receives every execution when it starts and when it ends.
	Executions ticket.ExecutionStore
	// Clock for the engine; asl.RealClock by default.
	Clock asl.Clock
	Log   *slog.Logger
	// Keep bounds how many finished executions stay in memory (default 1000).
	Keep int
}

// Server is the local Step Functions API. Close it to stop running executions.
type Server struct {
	c      Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	runs  map[string]*run // by execution ARN
	order []string        // execution ARNs, oldest first
}

// run is one execution as the API reports it, updated while it runs.
type run struct {
	mu     sync.Mutex
	exec   asl.Execution
	events []asl.Event
	done   chan struct{}
}

// New returns a server running executions in the background until Close.
func New(c Config) *Server {
	if c.Clock == nil {
		c.Clock = asl.RealClock
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Keep <= 0 {
		c.Keep = 1000
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{c: c, ctx: ctx, cancel: cancel, runs: map[string]*run{}}
}

// Close aborts running executions and waits for them to stop.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// Wait blocks until no execution is running.
func (s *Server) Wait() { s.wg.Wait() }

// apiError is a JSON 1.0 error response.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

// ServeHTTP dispatches on X-Amz-Target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
				out, err = s.start(in)
			case "StartSyncExecution":
				out, err = s.startSync(r.Context(), in)
			case "DescribeExecution":
				out, err = s.describe(in)
			case "GetExecutionHistory":
				out, err = s.history(in)
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

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// newRun validates a start request and registers its execution.
func (s *Server) newRun(in request) (*asl.Machine, *run, json.RawMessage, error) {
	m, ok := s.c.Machines[in.StateMachineArn]
	if !ok {
		return nil, nil, nil, badRequest("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	name := in.Name
	if name == "" {
		name = uuid.NewString()
	}
	if !validName.MatchString(name) {
		return nil, nil, nil, badRequest("InvalidName", "Invalid Name: '%s'", name)
	}
	input := json.RawMessage("{}")
	if in.Input != nil {
		if !json.Valid([]byte(*in.Input)) {
			return nil, nil, nil, badRequest("InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid JSON'")
		}
		input = json.RawMessage(*in.Input)
	}
	// arn:aws:states:REGION:ACCOUNT:stateMachine:NAME → …:express:NAME:EXEC:UUID
	arn := strings.Replace(in.StateMachineArn, ":stateMachine:", ":express:", 1) + ":" + name + ":" + uuid.NewString()
	rn := &run{done: make(chan struct{}), exec: asl.Execution{
		ExecutionArn: arn, StateMachineArn: in.StateMachineArn, Name: name,
		Status: asl.StatusRunning, StartDate: s.c.Clock.Now(), Input: input,
	}}
	s.mu.Lock()
	s.runs[arn] = rn
	s.order = append(s.order, arn)
	s.evict()
	s.mu.Unlock()
	return m, rn, input, nil
}

// evict drops the oldest finished executions beyond Keep; s.mu is held.
func (s *Server) evict() {
	for i := 0; len(s.order) > s.c.Keep && i < len(s.order); {
		rn := s.runs[s.order[i]]
		select {
		case <-rn.done:
			delete(s.runs, s.order[i])
			s.order = append(s.order[:i], s.order[i+1:]...)
		default:
			i++
		}
	}
}

// execute runs rn to completion and records the result.
func (s *Server) execute(ctx context.Context, m *asl.Machine, rn *run, input json.RawMessage) {
	defer close(rn.done)
	s.save(ctx, rn)
	res := m.Run(ctx, input, asl.RunOptions{
		Name:            rn.exec.Name,
		StateMachineArn: rn.exec.StateMachineArn,
		ExecutionArn:    rn.exec.ExecutionArn,
		Invoker:         s.c.Invoker,
		Clock:           s.c.Clock,
		OnEvent: func(e asl.Event) {
			rn.mu.Lock()
			rn.events = append(rn.events, e)
			rn.mu.Unlock()
		},
	})
	rn.mu.Lock()
	rn.exec = *res
	rn.events = res.Events
	rn.mu.Unlock()
	s.c.Log.Info("execution finished", "execution", res.ExecutionArn, "status", res.Status, "error", res.Error)
	// The store gets the final record even if the server is closing.
	s.save(context.WithoutCancel(ctx), rn)
}

func (s *Server) save(ctx context.Context, rn *run) {
	if s.c.Executions == nil {
		return
	}
	if err := s.c.Executions.SaveExecution(ctx, rn.record(true)); err != nil {
		s.c.Log.ErrorContext(ctx, "save execution", "execution", rn.exec.ExecutionArn, "err", err)
	}
}

// record is the execution as ticket.Execution.
func (rn *run) record(events bool) *ticket.Execution {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	e := &ticket.Execution{
		ExecutionArn: rn.exec.ExecutionArn, StateMachineArn: rn.exec.StateMachineArn, Name: rn.exec.Name,
		Status: rn.exec.Status, StartDate: rn.exec.StartDate, Input: rn.exec.Input, Output: rn.exec.Output,
		Error: rn.exec.Error, Cause: rn.exec.Cause,
	}
	if !rn.exec.StopDate.IsZero() {
		stop := rn.exec.StopDate
		e.StopDate = &stop
	}
	if events {
		for _, ev := range rn.events {
			b, err := json.Marshal(ev)
			if err == nil {
				e.Events = append(e.Events, b)
			}
		}
	}
	return e
}

func (s *Server) start(in request) (any, error) {
	m, rn, input, err := s.newRun(in)
	if err != nil {
		return nil, err
	}
	// Read before the execution starts writing rn.exec.
	resp := map[string]any{"executionArn": rn.exec.ExecutionArn, "startDate": epoch(rn.exec.StartDate)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.execute(s.ctx, m, rn, input)
	}()
	return resp, nil
}

func (s *Server) startSync(ctx context.Context, in request) (any, error) {
	m, rn, input, err := s.newRun(in)
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.execute(ctx, m, rn, input)
	out := describeOutput(rn)
	out["billingDetails"] = map[string]any{"billedDurationInMilliseconds": 100, "billedMemoryUsedInMB": 64}
	return out, nil
}

func (s *Server) lookup(arn string) (*run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn, ok := s.runs[arn]
	if !ok {
		return nil, badRequest("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return rn, nil
}

func (s *Server) describe(in request) (any, error) {
	rn, err := s.lookup(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	return describeOutput(rn), nil
}

func describeOutput(rn *run) map[string]any {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	e := rn.exec
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

func (s *Server) history(in request) (any, error) {
	rn, err := s.lookup(in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	rn.mu.Lock()
	events := append([]asl.Event(nil), rn.events...)
	rn.mu.Unlock()
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
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		page = append(page, historyEvent(b))
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
