// Package asl interprets Amazon States Language state machines locally, with the
// data flow, error handling and execution history of AWS Step Functions, so that
// one workflow definition runs the same on AWS and embedded in a single process.
package asl

import (
	"context"
	"encoding/json"
	"time"
)

// DefinitionError reports a definition that AWS would reject at CreateStateMachine.
type DefinitionError struct {
	Code    string // AWS validation code, e.g. "SCHEMA_VALIDATION_FAILED"
	Message string // AWS-like text, e.g. "String does not match RFC3339 timestamp at /States/W/Timestamp"
}

func (e *DefinitionError) Error() string {
	return "Invalid State Machine Definition: '" + e.Code + ": " + e.Message + "'"
}

// Invoker calls Task resources. A failure should be returned as *TaskFailure; any
// other error is treated as TaskFailure{Name: "States.TaskFailed", Cause: err.Error()}.
type Invoker interface {
	Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	return f(ctx, resource, input)
}

// TaskFailure is a named Step Functions error: Name is what Retry/Catch ErrorEquals match.
type TaskFailure struct {
	Name, Cause string
}

func (f *TaskFailure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// RunOptions configures one execution.
type RunOptions struct {
	Name            string // execution name; default a random UUID
	StateMachineArn string // default "arn:aws:states:local:000000000000:stateMachine:local"
	// ExecutionArn overrides the derived ARN (StateMachineArn's ":stateMachine:" turned into
	// ":execution:", plus ":" + Name); Express executions need a unique ARN per run because
	// several may share one name.
	ExecutionArn string
	Invoker      Invoker
	Clock        Clock          // default RealClock
	Rand         func() float64 // [0,1) for JitterStrategy FULL; default math/rand
	OnEvent      func(Event)    // called synchronously for every history event as it is appended
	// Callbacks issues the task tokens of callback tasks (Resource ending in .waitForTaskToken)
	// and passes them what is sent back. Default: a TaskTokens of the run's own, which nobody
	// outside can answer, so such a task waits for its timeout.
	Callbacks Callbacks
	// Checkpoint, if set, is called synchronously with the execution's durable state at every
	// transition between top-level states and within a Wait or callback task (see Checkpoint).
	// It should return once the checkpoint is committed (made durable too when cp.Durable). If
	// it fails the execution is suspended: Run returns it RUNNING as of the last checkpoint.
	Checkpoint func(cp *Checkpoint) error
	// Resume continues the execution of a checkpoint instead of starting one: its name, ARNs,
	// input and start date are the checkpoint's, and Run's input is ignored.
	Resume *Checkpoint
}

// DefaultStateMachineArn is used when RunOptions.StateMachineArn is empty.
const DefaultStateMachineArn = "arn:aws:states:local:000000000000:stateMachine:local"

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// Execution is the outcome and history of one run.
type Execution struct {
	ExecutionArn, StateMachineArn, Name string
	// Status is RUNNING only for a checkpointed execution that was suspended (ErrSuspended, or a
	// Checkpoint that failed): resume it from its last checkpoint.
	Status        string // RUNNING SUCCEEDED FAILED TIMED_OUT ABORTED
	StartDate     time.Time
	StopDate      time.Time
	Input, Output json.RawMessage // Output nil unless SUCCEEDED
	Error, Cause  string
	Events        []Event
}
