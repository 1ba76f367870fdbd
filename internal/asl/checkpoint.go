package asl

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Checkpoint is what a Standard execution needs to go on after its process died: taken at
// every transition between the machine's top-level states (RunOptions.Checkpoint), and, within
// a state, when a Wait starts sleeping and around the call of a callback task's resource. Run
// with RunOptions.Resume continues it: the history goes on with the next event ID, a Wait
// wakes at the time it was going to, a callback task waits on the token it handed out (and
// does not call its resource again once it has).
//
// Only top-level states are checkpointed: a Map or Parallel state in progress is run again
// from its start on resume, and a Task other than a callback task in progress is called
// again (at least once, as Step Functions' own retries are). Retry backoff in progress is
// slept again in full; a callback task's heartbeat clock starts again on resume.
//
// It is JSON: a store keeps it as it is.
type Checkpoint struct {
	ExecutionArn    string          `json:"executionArn"`
	StateMachineArn string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	StartDate       time.Time       `json:"startDate"`
	Input           json.RawMessage `json:"input"` // the execution's
	// Events is the history so far; none when the execution has not started yet (Run then
	// starts it with this name, input and start date).
	Events []Event `json:"events"`
	// State is the top-level state to run, StateInput its input. EnteredText is the first
	// state's input as the caller wrote it (AWS echoes it).
	State       string          `json:"state,omitempty"`
	StateInput  json.RawMessage `json:"stateInput,omitempty"`
	EnteredText string          `json:"enteredText,omitempty"`
	// Variables are the top-level state machine variables.
	Variables       map[string]json.RawMessage `json:"variables,omitempty"`
	PreviousEventID int64                      `json:"previousEventId"`
	// Entered is set when State was entered already: a Wait asleep or a callback task.
	Entered *EnteredState `json:"entered,omitempty"`
	// Durable asks the store to make this checkpoint survive power loss, not only a crash,
	// before the engine goes on: the next step is seen outside (a callback resource is called
	// with this token, and a page sent with it must be answerable after any restart).
	Durable bool `json:"-"`
}

// EnteredState is a top-level state in progress.
type EnteredState struct {
	EventID         int64     `json:"eventId"` // its StateEntered event
	PreviousEventID int64     `json:"previousEventId"`
	EnteredTime     time.Time `json:"enteredTime"`
	// Wait
	WakeAt time.Time `json:"wakeAt,omitzero"`
	// Callback task: the attempt, the retriers' counts, its token, when it times out (its
	// TimeoutSeconds from TaskStarted) and whether its resource returned.
	RetryCount     int       `json:"retryCount,omitempty"`
	RetryCounts    []int     `json:"retryCounts,omitempty"`
	Token          string    `json:"token,omitempty"`
	Deadline       time.Time `json:"deadline,omitzero"`
	ResourceCalled bool      `json:"resourceCalled,omitempty"`
}

// ErrSuspended, as the cause of the cancellation of a checkpointed execution's context
// (context.WithCancelCause), suspends the execution instead of aborting it: Run returns it
// RUNNING, its history cut back to the last checkpoint, to be resumed from there. A service
// shutting down suspends its Standard executions. Without RunOptions.Checkpoint it aborts.
var ErrSuspended = errors.New("asl: execution suspended")

// Stop, as the cause of the cancellation of an execution's context, is StopExecution's error
// and cause: the execution ends ABORTED with them.
type Stop struct {
	ErrorName, Cause string
}

func (s *Stop) Error() string { return "asl: execution stopped: " + s.ErrorName + ": " + s.Cause }

// statusSuspended marks a failure that suspends the execution (see ErrSuspended).
const statusSuspended = "SUSPENDED"

// stopFailure is the failure for a canceled ctx: suspended, stopped (with StopExecution's
// error and cause) or aborted.
func (r *runner) stopFailure(ctx context.Context) *failure {
	cause := context.Cause(ctx)
	if r.checkpoint != nil && errors.Is(cause, ErrSuspended) {
		return &failure{stop: statusSuspended}
	}
	f := &failure{stop: StatusAborted}
	var s *Stop
	if errors.As(cause, &s) {
		f.Error, f.hasError = s.ErrorName, s.ErrorName != ""
		f.Cause, f.hasCause = s.Cause, s.Cause != ""
	}
	return f
}

// save takes a checkpoint on the main thread of a checkpointed execution; entered is nil
// between states. A failed save suspends the execution at its previous checkpoint.
func (r *runner) save(th *thread, state string, input any, vars *varScope, entered *EnteredState, durable bool) *failure {
	if r.checkpoint == nil || !th.top {
		return nil
	}
	r.mu.Lock()
	events := r.exec.Events[:len(r.exec.Events):len(r.exec.Events)]
	r.mu.Unlock()
	cp := &Checkpoint{
		ExecutionArn: r.exec.ExecutionArn, StateMachineArn: r.exec.StateMachineArn, Name: r.exec.Name,
		StartDate: r.exec.StartDate, Input: r.exec.Input, Events: events,
		State: state, StateInput: encodeJSON(input), EnteredText: th.enteredText,
		PreviousEventID: th.last, Entered: entered, Durable: durable,
	}
	if all := vars.all(); len(all) > 0 {
		cp.Variables = make(map[string]json.RawMessage, len(all))
		for k, v := range all {
			cp.Variables[k] = encodeJSON(v)
		}
	}
	if err := r.checkpoint(cp); err != nil {
		return &failure{stop: statusSuspended, Cause: err.Error()}
	}
	r.saved = len(events)
	return nil
}

// restore sets the runner up to continue cp; it returns the state to run and its input.
func (r *runner) restore(cp *Checkpoint, th *thread, vars *varScope) (string, any, error) {
	r.exec.Events = append([]Event(nil), cp.Events...)
	r.saved = len(r.exec.Events)
	if n := len(cp.Events); n > 0 {
		r.nextID = cp.Events[n-1].ID
	}
	if _, ok := r.m.graph.states[cp.State]; !ok {
		return "", nil, errors.New("the checkpoint's state " + cp.State + " is not in the definition")
	}
	in, err := parseValue(cp.StateInput)
	if err != nil {
		return "", nil, errors.New("the checkpoint's state input is not JSON: " + err.Error())
	}
	vals := map[string]any{}
	for k, raw := range cp.Variables {
		v, err := parseValue(raw)
		if err != nil {
			return "", nil, errors.New("the checkpoint's variable " + k + " is not JSON: " + err.Error())
		}
		vals[k] = v
	}
	vars.assign(vals)
	th.last = cp.PreviousEventID
	th.enteredText = cp.EnteredText
	if cp.Entered != nil {
		e := *cp.Entered
		r.resume = &e
	}
	return cp.State, in, nil
}

// takeResume returns the state in progress a resumed execution continues, once.
func (r *runner) takeResume(th *thread) *EnteredState {
	if !th.top || r.resume == nil {
		return nil
	}
	rs := r.resume
	r.resume = nil
	return rs
}
