package asl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/google/uuid"
)

// maxPayloadBytes is the Step Functions quota on a state's input or output.
const maxPayloadBytes = 256 * 1024

// failure is a Step Functions error travelling up the state graph.
type failure struct {
	Error, Cause       string
	hasError, hasCause bool
	uncatchable        bool   // States.Runtime: never retried or caught
	evalFailed         bool   // States.QueryEvaluationError: an EvaluationFailed event is due
	location           string // the field whose evaluation failed
	mapStateFailed     bool   // a MapStateFailed event is due unless the Map is retried
	stop               string // StatusTimedOut or StatusAborted: the execution itself stopped
	stateScoped        bool   // cause still needs the "An error occurred while executing the state" prefix
}

func (f *failure) errorString() string { return f.Error + ": " + f.Cause }

// failErr adapts *failure to error for the few helpers that return error.
type failErr struct{ f *failure }

func (e failErr) Error() string { return e.f.errorString() }

func named(name, cause string) *failure {
	return &failure{Error: name, Cause: cause, hasError: true, hasCause: true}
}

// runtimeErr builds an uncatchable States.Runtime failure; the state prefix is added later.
func runtimeErr(format string, a ...any) error {
	return failErr{&failure{Error: "States.Runtime", Cause: fmt.Sprintf(format, a...), hasError: true, hasCause: true, uncatchable: true, stateScoped: true}}
}

func asFailure(err error) *failure {
	var fe failErr
	if errors.As(err, &fe) {
		return fe.f
	}
	var ie *intrinsicError
	if errors.As(err, &ie) {
		return &failure{Error: "States.Runtime", Cause: ie.msg, hasError: true, hasCause: true, uncatchable: true, stateScoped: true}
	}
	return &failure{Error: "States.Runtime", Cause: err.Error(), hasError: true, hasCause: true, uncatchable: true, stateScoped: true}
}

// evalEnv is what paths, intrinsics and JSONata expressions see: the state's
// data, the context object and the variables.
type evalEnv struct {
	input any
	ctx   *object
	rand  func() float64
	vars  *varScope

	// the state being run, for EvaluationFailed events
	st                     *state
	th                     *thread
	enteredID, enteredPrev int64
	entered                time.Time
	// resume: the state in progress a resumed execution continues; attempt and
	// retryCounts: the Task attempt running and its retriers' counts.
	resume      *EnteredState
	attempt     int
	retryCounts []int

	// JSONata $states
	stateInput                any
	result, errorOutput       any
	hasResult, hasErrorOutput bool
}

// with returns a copy of ev whose JSONPath "$" is input.
func (ev *evalEnv) with(input any) *evalEnv {
	c := *ev
	c.input = input
	return &c
}

func (ev *evalEnv) path(p *jsonPath) (any, error) { return ev.pathOn(p, ev.input) }

// pathOn evaluates p against root, or against the context object or a variable
// when p starts with $$ or $name.
func (ev *evalEnv) pathOn(p *jsonPath, root any) (any, error) {
	switch {
	case p.context:
		root = ev.ctx
	case p.variable != "":
		v, ok := ev.vars.get(p.variable)
		if !ok {
			return nil, &pathNotFound{"Variable '" + p.variable + "' is not defined"}
		}
		root = v
	}
	return p.eval(root)
}

// runner is one execution in progress.
type runner struct {
	m        *Machine
	exec     *Execution
	clock    Clock
	rand     func() float64
	invoker  Invoker
	onEvent  func(Event)
	region   string
	mu       sync.Mutex
	nextID   int64
	execCtx  *object
	smCtx    *object
	deadline time.Time

	callbacks  Callbacks
	checkpoint func(*Checkpoint) error
	saved      int           // events covered by the last checkpoint
	resume     *EnteredState // the top-level state in progress a resumed execution continues
}

// thread tracks previousEventId along one sequential path of events.
type thread struct {
	r    *runner
	last int64
	// enteredText, when set, is the next StateEntered input text: the
	// execution input exactly as the caller wrote it.
	enteredText string
	// top: the main thread of the machine's top-level states, the one checkpointed.
	top bool
}

func (t *thread) emit(typ string, details any) int64 {
	id := t.r.append(typ, t.last, details)
	t.last = id
	return id
}

func (r *runner) append(typ string, prev int64, details any) int64 {
	r.mu.Lock()
	r.nextID++
	e := Event{ID: r.nextID, PreviousEventID: prev, Timestamp: r.clock.Now(), Type: typ, Details: details}
	r.exec.Events = append(r.exec.Events, e)
	r.mu.Unlock()
	if r.onEvent != nil {
		r.onEvent(e)
	}
	return e.ID
}

// Run executes the machine to completion (or until ctx is done → ABORTED).
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opt RunOptions) *Execution {
	if opt.Clock == nil {
		opt.Clock = RealClock
	}
	if opt.Rand == nil {
		opt.Rand = rand.Float64
	}
	if opt.Name == "" {
		opt.Name = uuid.NewString()
	}
	if opt.StateMachineArn == "" {
		opt.StateMachineArn = DefaultStateMachineArn
	}
	if cp := opt.Resume; cp != nil {
		opt.Name, opt.StateMachineArn, opt.ExecutionArn, input = cp.Name, cp.StateMachineArn, cp.ExecutionArn, cp.Input
	}
	execArn := opt.ExecutionArn
	if execArn == "" {
		execArn = strings.Replace(opt.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + opt.Name
	}
	if opt.Callbacks == nil {
		opt.Callbacks = NewTaskTokens()
	}
	r := &runner{m: m, clock: opt.Clock, rand: opt.Rand, invoker: opt.Invoker, onEvent: opt.OnEvent, callbacks: opt.Callbacks, checkpoint: opt.Checkpoint}
	r.exec = &Execution{ExecutionArn: execArn, StateMachineArn: opt.StateMachineArn, Name: opt.Name, Status: StatusRunning, StartDate: r.clock.Now(), Input: input}
	resuming := opt.Resume != nil && len(opt.Resume.Events) > 0
	if opt.Resume != nil {
		r.exec.StartDate = opt.Resume.StartDate
	}
	if parts := strings.Split(opt.StateMachineArn, ":"); len(parts) > 3 {
		r.region = parts[3]
	}
	smName := opt.StateMachineArn[strings.LastIndex(opt.StateMachineArn, ":")+1:]
	roleArn := "arn:aws:iam::000000000000:role/StepFunctionsLocal"
	th := &thread{r: r, top: true}
	in, err := parseValue(input)
	if err != nil {
		r.finish(&failure{Error: "States.Runtime", Cause: "Invalid execution input: " + err.Error(), hasError: true, hasCause: true}, nil)
		return r.exec
	}
	r.exec.Input = encodeJSON(in)
	vars := newVarScope(nil)
	start, stateInput := m.graph.startAt, any(in)
	if resuming {
		if start, stateInput, err = r.restore(opt.Resume, th, vars); err != nil {
			r.finish(&failure{Error: "States.Runtime", Cause: "Cannot resume the execution: " + err.Error(), hasError: true, hasCause: true}, nil)
			return r.exec
		}
	} else {
		// AWS echoes the execution input text as given, both here and as the first state's input.
		th.enteredText = inputText(input, in)
		r.append("ExecutionStarted", 0, map[string]any{"input": th.enteredText, "inputDetails": payloadDetails{}, "roleArn": roleArn})
	}
	r.execCtx = obj("Id", execArn, "Input", in, "StartTime", isoTime(r.exec.StartDate), "Name", opt.Name, "RoleArn", roleArn, "RedriveCount", intNumber(0))
	r.smCtx = obj("Id", opt.StateMachineArn, "Name", smName)
	if m.graph.timeoutSeconds > 0 {
		r.deadline = r.exec.StartDate.Add(time.Duration(m.graph.timeoutSeconds) * time.Second)
		var cancel context.CancelFunc
		ctx, cancel = withDeadline(ctx, r.clock, r.deadline)
		defer cancel()
	}
	out, f := r.runGraphFrom(ctx, m.graph, start, stateInput, th, vars, resuming)
	if f == nil && len(encodeJSON(out)) > maxPayloadBytes {
		f = named("States.DataLimitExceeded", "The state/task returned a result with a size exceeding the maximum number of bytes service limit.")
	}
	r.finish(f, out)
	return r.exec
}

// child is a runner for a distributed Map's child executions: same context, own history.
func (r *runner) child() *runner {
	c := &runner{m: r.m, clock: r.clock, rand: r.rand, invoker: r.invoker, callbacks: r.callbacks, region: r.region, execCtx: r.execCtx, smCtx: r.smCtx, deadline: r.deadline}
	c.exec = &Execution{ExecutionArn: r.exec.ExecutionArn, StateMachineArn: r.exec.StateMachineArn, Name: r.exec.Name}
	return c
}

func (r *runner) finish(f *failure, out any) {
	if f != nil && f.stop == statusSuspended {
		// Left as the last checkpoint has it: what happened since is done again on resume.
		r.mu.Lock()
		r.exec.Events = r.exec.Events[:r.saved]
		r.mu.Unlock()
		r.exec.Status = StatusRunning
		return
	}
	last := int64(0)
	if n := len(r.exec.Events); n > 0 {
		last = r.exec.Events[n-1].ID
	}
	r.exec.StopDate = r.clock.Now()
	switch {
	case f == nil:
		r.exec.Status = StatusSucceeded
		r.exec.Output = encodeJSON(out)
		r.append("ExecutionSucceeded", last, map[string]any{"output": encodeString(out), "outputDetails": payloadDetails{}})
	case f.stop == StatusTimedOut:
		r.exec.Status = StatusTimedOut
		r.append("ExecutionTimedOut", last, map[string]any{})
	case f.stop == StatusAborted:
		r.exec.Status = StatusAborted
		r.exec.Error, r.exec.Cause = f.Error, f.Cause
		r.append("ExecutionAborted", last, errorDetails(f, nil))
	default:
		r.exec.Status = StatusFailed
		r.exec.Error, r.exec.Cause = f.Error, f.Cause
		r.append("ExecutionFailed", last, errorDetails(f, nil))
	}
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// mapItem is the $$.Map.Item of a Map iteration.
type mapItem struct {
	index int
	value any
}

// stopped reports whether the execution deadline passed or ctx was cancelled.
func (r *runner) stopped(ctx context.Context) *failure {
	if !r.deadline.IsZero() && !r.clock.Now().Before(r.deadline) {
		return &failure{stop: StatusTimedOut}
	}
	if ctx.Err() != nil {
		if dl, ok := virtualDeadline(ctx); ok && !r.clock.Now().Before(dl) && !r.deadline.IsZero() {
			return &failure{stop: StatusTimedOut}
		}
		return r.stopFailure(ctx)
	}
	return nil
}

func (r *runner) contextObject(st *state, entered time.Time, item *mapItem) *object {
	c := obj("Execution", r.execCtx, "StateMachine", r.smCtx, "State", obj("Name", st.name, "EnteredTime", isoTime(entered)))
	if item != nil {
		c.set("Map", obj("Item", obj("Index", intNumber(int64(item.index)), "Value", item.value)))
	}
	return c
}

// inputText is the execution input as the caller wrote it (surrounding
// whitespace trimmed), or its compact encoding when there was none.
func inputText(raw []byte, v any) string {
	if t := bytes.TrimSpace(raw); len(t) > 0 {
		return string(t)
	}
	return encodeString(v)
}

// applyInput applies InputPath: absent → whole input, null → {}.
func applyInput(p optPath, ev *evalEnv) (any, error) {
	if !p.set {
		return ev.input, nil
	}
	if p.null {
		return newObject(0), nil
	}
	v, err := ev.path(p.path)
	if err != nil {
		return nil, runtimeErr("Invalid path '%s' : %v", p.path.src, err)
	}
	return v, nil
}

func applyOutputPath(p optPath, v any, ev *evalEnv) (any, error) {
	if !p.set {
		return v, nil
	}
	if p.null {
		return newObject(0), nil
	}
	out, err := ev.pathOn(p.path, v)
	if err != nil {
		return nil, runtimeErr("Invalid path '%s' : %v", p.path.src, err)
	}
	return out, nil
}

// applyResult runs ResultPath and OutputPath for a state's result.
func applyResult(st *state, rawInput, result any, ev *evalEnv) (any, error) {
	merged, err := applyResultPath(st.resultPath, rawInput, result)
	if err != nil {
		return nil, err
	}
	return applyOutputPath(st.outputPath, merged, ev)
}

func applyResultPath(p optPath, rawInput, result any) (any, error) {
	switch {
	case !p.set:
		return result, nil
	case p.null:
		return rawInput, nil
	}
	out, err := setPath(rawInput, p.path, result)
	if err != nil {
		return nil, runtimeErr("Invalid path '%s' : %v", p.path.src, err)
	}
	return out, nil
}

// evalTemplate evaluates a payload template (Parameters, ResultSelector, ItemSelector).
func evalTemplate(t any, ev *evalEnv) (any, error) {
	switch x := t.(type) {
	case *object:
		// AWS lists the literal members first, in template order, then the
		// evaluated ones in the iteration order of a java.util.HashMap.
		out := newObject(x.len())
		var dyn *object
		for i, k := range x.keys {
			v := x.vals[i]
			if !strings.HasSuffix(k, ".$") {
				val, err := evalTemplate(v, ev)
				if err != nil {
					return nil, err
				}
				out.set(k, val)
				continue
			}
			if dyn == nil {
				dyn = newObject(x.len())
			}
			expr, _ := v.(string)
			name := strings.TrimSuffix(k, ".$")
			if isIntrinsic(expr) {
				call, err := parseIntrinsic(expr)
				if err != nil {
					return nil, runtimeErr("%v", err)
				}
				val, err := call.eval(ev)
				if err != nil {
					return nil, err
				}
				dyn.set(name, val)
				continue
			}
			p, err := compilePath(expr)
			if err != nil {
				return nil, runtimeErr("%v", err)
			}
			val, err := ev.path(p)
			if err != nil {
				return nil, runtimeErr("The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", expr, k, encodeString(ev.input))
			}
			dyn.set(name, val)
		}
		if dyn != nil {
			for _, i := range javaHashMapOrder(dyn.keys) {
				out.set(dyn.keys[i], dyn.vals[i])
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			val, err := evalTemplate(v, ev)
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	return deepCopy(t), nil
}

// javaHashMapOrder returns the indexes of keys in the order a java.util.HashMap
// filled with them in that order iterates: by bucket (String.hashCode spread
// as HashMap.hash does, table grown from 16 at load factor 0.75), ties in
// insertion order.
func javaHashMapOrder(keys []string) []int {
	n := uint32(16)
	for uint32(len(keys)) > n/4*3 {
		n *= 2
	}
	bucket := make([]uint32, len(keys))
	for i, k := range keys {
		var h uint32
		for _, u := range utf16.Encode([]rune(k)) {
			h = 31*h + uint32(u)
		}
		bucket[i] = (h ^ h>>16) & (n - 1)
	}
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return bucket[idx[a]] < bucket[idx[b]] })
	return idx
}

// retryDelay is IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds, with optional full jitter.
func retryDelay(rt retrier, n int, rnd func() float64) time.Duration {
	secs := rt.interval * math.Pow(rt.backoff, float64(n))
	if rt.maxDelay > 0 && secs > rt.maxDelay {
		secs = rt.maxDelay
	}
	if rt.jitterFull {
		secs *= rnd()
	}
	return time.Duration(secs * float64(time.Second))
}

func matchRetrier(st *state, f *failure) int {
	for i, rt := range st.retry {
		if errorMatches(st, rt.errorEquals, f) {
			return i
		}
	}
	return -1
}

func errorMatches(st *state, list []string, f *failure) bool {
	for _, e := range list {
		switch {
		case e == f.Error:
			return true
		case e == "States.ALL":
			return true
		case e == "States.TaskFailed" && st.typ == "Task" && !isTimeout(f):
			return true
		case e == "States.Timeout" && f.Error == "States.HeartbeatTimeout":
			// A heartbeat timeout is a timeout too: the spec and AWS define States.Timeout as
			// running longer than TimeoutSeconds or failing to heartbeat within HeartbeatSeconds.
			return true
		}
	}
	return false
}
