package asl

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
)

// callbackSuffix marks a Task resource that waits for its task token to come back
// (the "Wait for a Callback with Task Token" integration pattern).
const callbackSuffix = ".waitForTaskToken"

// defaultTaskTimeout is AWS's TimeoutSeconds when a Task has none (99999999 s).
const defaultTaskTimeout = 99999999 * time.Second

// Callbacks is where callback tasks (a Resource ending in .waitForTaskToken) get their task
// token and wait for it to come back. The engine opens a token before it evaluates the task's
// Parameters (so that $$.Task.Token has it) and closes it when the task is over, whatever the
// outcome. Between the two, what SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat send
// with the token must be passed to deliver, which never blocks and returns false once the task
// no longer waits (it was answered, timed out or stopped): the sender is then told TaskTimedOut.
// TaskTokens is an implementation in memory.
type Callbacks interface {
	// Open registers a callback task and returns its token: task.Token itself when it is set
	// (a resumed execution waits on the token it handed out before).
	Open(task CallbackTask, deliver func(CallbackSignal) bool) (token string, err error)
	// Close forgets the token: from now on it is answered TaskTimedOut.
	Close(token string)
}

// CallbackTask is one attempt of a callback task.
type CallbackTask struct {
	Token           string // empty when a new token is wanted
	ExecutionArn    string
	StateMachineArn string
	State           string // the Task state's name
	Resource        string
	EnteredEventID  int64 // the TaskStateEntered event
	RetryCount      int   // $$.State.RetryCount of this attempt
}

// Kinds of CallbackSignal.
const (
	SignalSuccess   = "SUCCESS"   // SendTaskSuccess: Output is the task's result
	SignalFailure   = "FAILURE"   // SendTaskFailure: Error and Cause are the task's error
	SignalHeartbeat = "HEARTBEAT" // SendTaskHeartbeat: the HeartbeatSeconds clock starts again
)

// CallbackSignal is what was sent with a task token.
type CallbackSignal struct {
	Kind   string          `json:"kind"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
}

// Task token API errors, by the names Step Functions answers SendTaskSuccess,
// SendTaskFailure and SendTaskHeartbeat with.
const (
	CodeInvalidToken     = "InvalidToken"     // not a token this engine issued
	CodeTaskDoesNotExist = "TaskDoesNotExist" // well formed, but no such execution
	CodeTaskTimedOut     = "TaskTimedOut"     // the task is over: answered, timed out, stopped
	CodeInvalidOutput    = "InvalidOutput"    // SendTaskSuccess output that is not JSON, or too large
)

// TokenError is a task token API error; Code is one of the Code* names.
type TokenError struct {
	Code, Message string
}

func (e *TokenError) Error() string { return e.Code + ": " + e.Message }

// tokenBody is what a task token says: which task of which execution it belongs to, and a
// random part that makes it unguessable. A token names its execution so that, after a restart
// has emptied every registry, "that task is over" (TaskTimedOut) is still told apart from "no
// such task" (TaskDoesNotExist).
type tokenBody struct {
	Execution string `json:"e"`
	State     string `json:"s"`
	Event     int64  `json:"n"`
	Attempt   int    `json:"a"`
	Nonce     string `json:"r"`
}

// NewTaskToken returns a fresh token for task.
func NewTaskToken(task CallbackTask) string {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b, _ := json.Marshal(tokenBody{Execution: task.ExecutionArn, State: task.State, Event: task.EnteredEventID, Attempt: task.RetryCount, Nonce: hex.EncodeToString(nonce)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// TaskTokenExecution returns the ARN of the execution a token from NewTaskToken belongs to,
// or a TokenError InvalidToken.
func TaskTokenExecution(token string) (string, error) {
	invalid := &TokenError{Code: CodeInvalidToken, Message: "Invalid Token: '" + token + "'"}
	if len(token) == 0 || len(token) > 2048 {
		return "", invalid
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid
	}
	var t tokenBody
	if err := json.Unmarshal(b, &t); err != nil || !strings.HasPrefix(t.Execution, "arn:") || len(t.Nonce) != 32 {
		return "", invalid
	}
	return t.Execution, nil
}

// TaskTokens is a Callbacks in memory that also answers the task token API: the engine's
// registry for tests, simulations and the local Step Functions service (which makes answers
// durable through BeforeDeliver). The first SendTaskSuccess or SendTaskFailure for a token
// wins; any later one, or one after the task timed out, gets TaskTimedOut.
type TaskTokens struct {
	// BeforeDeliver, if set, runs once a SendTaskSuccess or SendTaskFailure has claimed its
	// token, before the waiting task gets the answer: where the answer is made durable before
	// the sender hears it was taken. An error releases the token and is the sender's answer.
	BeforeDeliver func(task CallbackTask, sig CallbackSignal) error
	// ExecutionExists, if set, tells a token of a task that is over from one of an execution
	// that never was, when the registry no longer remembers the token (after a restart).
	ExecutionExists func(executionArn string) bool

	mu       sync.Mutex
	open     map[string]*openToken
	closed   map[string]bool
	order    []string // closed tokens, oldest first, to bound what is remembered
	answered map[string]CallbackSignal
}

type openToken struct {
	task    CallbackTask
	deliver func(CallbackSignal) bool
	claimed bool
}

// keepClosed bounds the closed tokens remembered (ExecutionExists covers the older ones).
const keepClosed = 10000

// NewTaskTokens returns an empty registry.
func NewTaskTokens() *TaskTokens {
	return &TaskTokens{open: map[string]*openToken{}, closed: map[string]bool{}, answered: map[string]CallbackSignal{}}
}

var _ Callbacks = (*TaskTokens)(nil)

// Open implements Callbacks. An answer recorded with Answered for the token is delivered at once.
func (t *TaskTokens) Open(task CallbackTask, deliver func(CallbackSignal) bool) (string, error) {
	if task.Token == "" {
		task.Token = NewTaskToken(task)
	}
	o := &openToken{task: task, deliver: deliver}
	t.mu.Lock()
	t.open[task.Token] = o
	delete(t.closed, task.Token)
	pre, ok := t.answered[task.Token]
	delete(t.answered, task.Token)
	if ok {
		o.claimed = true
	}
	t.mu.Unlock()
	if ok {
		deliver(pre)
		t.Close(task.Token)
	}
	return task.Token, nil
}

// Close implements Callbacks.
func (t *TaskTokens) Close(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.open[token]; !ok {
		return
	}
	delete(t.open, token)
	t.closed[token] = true
	t.order = append(t.order, token)
	if len(t.order) > keepClosed {
		delete(t.closed, t.order[0])
		t.order = t.order[1:]
	}
}

// Answered records that sig was accepted for token before a restart, and is delivered when
// the resumed execution opens the token again.
func (t *TaskTokens) Answered(token string, sig CallbackSignal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answered[token] = sig
}

// Waiting lists the open callback tasks, by execution and event: how a test or a simulation
// finds the token a task waits on.
func (t *TaskTokens) Waiting() []CallbackTask {
	t.mu.Lock()
	out := make([]CallbackTask, 0, len(t.open))
	for _, o := range t.open {
		if !o.claimed {
			out = append(out, o.task)
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].ExecutionArn != out[j].ExecutionArn {
			return out[i].ExecutionArn < out[j].ExecutionArn
		}
		return out[i].EnteredEventID < out[j].EnteredEventID
	})
	return out
}

// SendTaskSuccess completes the task waiting on token with output (a JSON text of at most
// 256 KiB) as its result.
func (t *TaskTokens) SendTaskSuccess(token string, output json.RawMessage) error {
	if !json.Valid(output) {
		return &TokenError{Code: CodeInvalidOutput, Message: "Invalid Output: 'the output is not valid JSON'"}
	}
	if len(output) > maxPayloadBytes {
		return &TokenError{Code: CodeInvalidOutput, Message: "Invalid Output: 'the output exceeds the maximum size of 262144 bytes'"}
	}
	return t.send(token, CallbackSignal{Kind: SignalSuccess, Output: output})
}

// SendTaskFailure fails the task waiting on token with the error name and cause (Retry and
// Catch match the name).
func (t *TaskTokens) SendTaskFailure(token, errName, cause string) error {
	return t.send(token, CallbackSignal{Kind: SignalFailure, Error: errName, Cause: cause})
}

// SendTaskHeartbeat restarts the HeartbeatSeconds clock of the task waiting on token.
func (t *TaskTokens) SendTaskHeartbeat(token string) error {
	return t.send(token, CallbackSignal{Kind: SignalHeartbeat})
}

func (t *TaskTokens) send(token string, sig CallbackSignal) error {
	t.mu.Lock()
	o, ok := t.open[token]
	if !ok || o.claimed {
		closed := t.closed[token] || ok
		t.mu.Unlock()
		return t.unknown(token, closed)
	}
	if sig.Kind == SignalHeartbeat {
		t.mu.Unlock()
		if !o.deliver(sig) {
			return t.unknown(token, true)
		}
		return nil
	}
	o.claimed = true
	t.mu.Unlock()
	if t.BeforeDeliver != nil {
		if err := t.BeforeDeliver(o.task, sig); err != nil {
			t.mu.Lock()
			o.claimed = false
			t.mu.Unlock()
			return err
		}
	}
	accepted := o.deliver(sig)
	t.Close(token)
	if !accepted {
		return t.unknown(token, true)
	}
	return nil
}

// unknown answers a token no task waits on.
func (t *TaskTokens) unknown(token string, closed bool) error {
	arn, err := TaskTokenExecution(token)
	if err != nil {
		return err
	}
	if closed || (t.ExecutionExists != nil && t.ExecutionExists(arn)) {
		return &TokenError{Code: CodeTaskTimedOut, Message: "Task Timed Out: 'Provided task does not exist anymore'"}
	}
	return &TokenError{Code: CodeTaskDoesNotExist, Message: "Task Does Not Exist: 'Provided task does not exist'"}
}

// tokenWait is the engine's side of one open token: what was delivered, and the sleep to
// interrupt when something is.
type tokenWait struct {
	clock  Clock
	mu     sync.Mutex
	sig    *CallbackSignal
	closed bool
	beat   time.Time // the last heartbeat (or the submission)
	wake   func()
}

func (w *tokenWait) deliver(s CallbackSignal) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.sig != nil {
		return false
	}
	if s.Kind == SignalHeartbeat {
		w.beat = w.clock.Now()
	} else {
		w.sig = &s
	}
	if w.wake != nil {
		w.wake()
	}
	return true
}

// answered reports whether the task's answer came already.
func (w *tokenWait) answered() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sig != nil
}

// close stops deliveries; it reports the signal delivered before, if any.
func (w *tokenWait) close() *CallbackSignal {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.sig
}
