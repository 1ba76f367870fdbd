package asl

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

const lambdaInvokeArn = "arn:aws:states:::lambda:invoke"

// taskKind classifies a Task Resource: a bare Lambda ARN, the lambda:invoke
// integration, or anything else (passed to the Invoker as-is).
func taskKind(resource string) (kind, resourceType, action string) {
	switch {
	case strings.HasPrefix(resource, "arn:") && strings.Contains(resource, ":lambda:") && strings.Contains(resource, ":function:"):
		return "lambda", "", ""
	case strings.HasPrefix(resource, "arn:aws:states:::"):
		rest := strings.TrimPrefix(resource, "arn:aws:states:::")
		svc, act, _ := strings.Cut(rest, ":")
		return "service", svc, act
	}
	return "service", "", resource
}

func (r *runner) task(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	if strings.HasSuffix(st.resource, callbackSuffix) {
		return r.callbackTask(ctx, st, eff, ev, th)
	}
	payload, f := taskPayload(st, eff, ev)
	if f != nil {
		return nil, f
	}
	timeout, heartbeat, f := taskTimeouts(st, ev)
	if f != nil {
		return nil, f
	}
	kind, resourceType, action := taskKind(st.resource)
	isInvoke := st.resource == lambdaInvokeArn || strings.HasPrefix(st.resource, lambdaInvokeArn+".")

	var target string
	var body []byte
	if kind == "lambda" {
		target, body = st.resource, encodeJSON(payload)
		d := map[string]any{"resource": st.resource, "input": string(body), "inputDetails": payloadDetails{}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		if heartbeat > 0 {
			d["heartbeatInSeconds"] = heartbeat
		}
		th.emit("LambdaFunctionScheduled", d)
		th.emit("LambdaFunctionStarted", nil)
	} else {
		target, body = invokeTarget(st, payload, isInvoke)
		th.emit("TaskScheduled", r.scheduledDetails(resourceType, action, payload, timeout, heartbeat))
		th.emit("TaskStarted", map[string]any{"resourceType": resourceType, "resource": action})
	}

	var taskDeadline time.Time
	if timeout > 0 {
		taskDeadline = r.clock.Now().Add(time.Duration(timeout) * time.Second)
	}
	result, f := r.callResource(ctx, st, target, body, payload, isInvoke, taskDeadline)
	if f != nil && f.stop != "" {
		return nil, f
	}
	if kind == "lambda" {
		switch {
		case f == nil:
			th.emit("LambdaFunctionSucceeded", map[string]any{"output": encodeString(result), "outputDetails": payloadDetails{}})
		case f.Error == "States.Timeout":
			th.emit("LambdaFunctionTimedOut", errorDetails(f, nil))
		default:
			th.emit("LambdaFunctionFailed", errorDetails(f, nil))
		}
	} else {
		base := map[string]any{"resourceType": resourceType, "resource": action}
		switch {
		case f == nil:
			base["output"] = encodeString(result)
			base["outputDetails"] = payloadDetails{}
			th.emit("TaskSucceeded", base)
		case f.Error == "States.Timeout":
			th.emit("TaskTimedOut", errorDetails(f, base))
		default:
			th.emit("TaskFailed", errorDetails(f, base))
		}
	}
	return result, f
}

// taskPayload evaluates a Task's Parameters (JSONPath) or Arguments (JSONata).
func taskPayload(st *state, eff any, ev *evalEnv) (any, *failure) {
	payload := eff
	if st.jsonata {
		if st.hasArguments {
			v, err := ev.evalJSONataTemplate(st.arguments, "Arguments")
			if err != nil {
				return nil, asFailure(err)
			}
			payload = v
		}
	} else if st.hasParameters {
		v, err := evalTemplate(st.parameters, ev.with(eff))
		if err != nil {
			return nil, asFailure(err)
		}
		payload = v
	}
	return payload, nil
}

// taskTimeouts resolves a Task's TimeoutSeconds and HeartbeatSeconds (0 = not set).
func taskTimeouts(st *state, ev *evalEnv) (timeout, heartbeat int64, f *failure) {
	timeout = st.timeoutSeconds
	if st.timeoutSecondsPath != nil {
		v, err := ev.path(st.timeoutSecondsPath)
		if err != nil {
			return 0, 0, asFailure(runtimeErr("Invalid path '%s' : %v", st.timeoutSecondsPath.src, err))
		}
		n, ok := asInteger(v)
		if !ok || n <= 0 {
			return 0, 0, asFailure(runtimeErr("The TimeoutSecondsPath parameter must reference a positive integer: %s == %s", st.timeoutSecondsPath.src, formatArg(v)))
		}
		timeout = n
	}
	heartbeat, _ = asInteger(st.f.val("HeartbeatSeconds"))
	if st.jsonata {
		for _, field := range []string{"TimeoutSeconds", "HeartbeatSeconds"} {
			raw, ok := st.f.val(field).(string)
			if !ok || !isExpr(raw) {
				continue
			}
			v, err := ev.evalExpr(raw, field)
			if err != nil {
				return 0, 0, asFailure(err)
			}
			n, ok := asInteger(v)
			if !ok || n <= 0 {
				return 0, 0, asFailure(queryError(field, "The %s field must be a positive integer, but was: %s", field, encodeString(v)))
			}
			if field == "TimeoutSeconds" {
				timeout = n
			} else {
				heartbeat = n
			}
		}
	}
	if st.heartbeatPath != nil {
		v, err := ev.path(st.heartbeatPath)
		if err != nil {
			return 0, 0, asFailure(runtimeErr("Invalid path '%s' : %v", st.heartbeatPath.src, err))
		}
		if n, ok := asInteger(v); ok && n > 0 {
			heartbeat = n
		}
	}
	return timeout, heartbeat, nil
}

// invokeTarget is what the Invoker is called with: the function and its payload for
// lambda:invoke, else the resource and the effective parameters.
func invokeTarget(st *state, payload any, isInvoke bool) (string, []byte) {
	if !isInvoke {
		return st.resource, encodeJSON(payload)
	}
	pm, _ := payload.(*object)
	target, _ := pm.val("FunctionName").(string)
	switch p := pm.val("Payload").(type) {
	case nil:
		return target, []byte("{}") // a null or absent Payload reaches the function as {}
	case string:
		var probe any
		if decodeJSON([]byte(p), &probe) == nil {
			return target, []byte(p)
		}
		return target, encodeJSON(p)
	default:
		return target, encodeJSON(p)
	}
}

func (r *runner) scheduledDetails(resourceType, action string, payload any, timeout, heartbeat int64) map[string]any {
	d := map[string]any{"resourceType": resourceType, "resource": action, "region": r.region, "parameters": encodeString(payload)}
	if timeout > 0 {
		d["timeoutInSeconds"] = timeout
	}
	if heartbeat > 0 {
		d["heartbeatInSeconds"] = heartbeat
	}
	return d
}

// callResource calls the Invoker and turns its answer into the task's result (the Invoke API
// response for lambda:invoke) or failure; a zero deadline is none.
func (r *runner) callResource(ctx context.Context, st *state, target string, body []byte, payload any, isInvoke bool, deadline time.Time) (any, *failure) {
	callCtx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		callCtx, cancel = withDeadline(ctx, r.clock, deadline)
		defer cancel()
	}
	var out json.RawMessage
	var err error
	if r.invoker == nil {
		err = &TaskFailure{Name: "States.TaskFailed", Cause: "no handler is bound to resource " + target}
	} else {
		out, err = r.invoker.Invoke(callCtx, target, body)
	}
	if err != nil {
		if sf := r.stopped(ctx); sf != nil {
			return nil, sf
		}
		if !deadline.IsZero() && (!r.clock.Now().Before(deadline) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, &failure{Error: "States.Timeout", hasError: true}
		}
		var tf *TaskFailure
		if errors.As(err, &tf) {
			return nil, named(tf.Name, tf.Cause)
		}
		return nil, named("States.TaskFailed", err.Error())
	}
	if len(out) > maxPayloadBytes {
		name := st.resource
		if isInvoke {
			name = "lambda"
		}
		return nil, named("States.DataLimitExceeded", fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", name))
	}
	v, perr := parseValue(out)
	if perr != nil {
		v = string(out)
	}
	if len(out) == 0 {
		v = nil
	}
	if !isInvoke {
		return v, nil
	}
	resp := invokeResponse(v, len(out))
	if pm, _ := payload.(*object); pm.val("LogType") == "Tail" {
		// The integration passes LogType through; the function's log tail comes back base64-encoded.
		logTail := base64.StdEncoding.EncodeToString([]byte("START RequestId: local\nEND RequestId: local\n"))
		resp = obj("ExecutedVersion", resp.val("ExecutedVersion"), "LogResult", logTail, "Payload", resp.val("Payload"),
			"SdkHttpMetadata", resp.val("SdkHttpMetadata"), "SdkResponseMetadata", resp.val("SdkResponseMetadata"), "StatusCode", resp.val("StatusCode"))
		meta := resp.val("SdkHttpMetadata").(*object)
		all := meta.val("AllHttpHeaders").(*object)
		meta.set("AllHttpHeaders", &object{keys: append([]string{"X-Amz-Log-Result"}, all.keys...), vals: append([]any{[]any{logTail}}, all.vals...)})
		hh := meta.val("HttpHeaders").(*object) // case-insensitively sorted
		at := hh.find("X-Amz-Executed-Version") + 1
		meta.set("HttpHeaders", &object{keys: append(append(append([]string{}, hh.keys[:at]...), "X-Amz-Log-Result"), hh.keys[at:]...),
			vals: append(append(append([]any{}, hh.vals[:at]...), logTail), hh.vals[at:]...)})
	}
	return resp, nil
}

// callbackTask runs one attempt of a callback task: it opens a task token (in $$.Task.Token),
// calls the resource once with it (the answer is recorded as TaskSubmitted and otherwise
// ignored), then waits for SendTaskSuccess (the result), SendTaskFailure (the error),
// TimeoutSeconds from TaskStarted (States.Timeout) or HeartbeatSeconds without a heartbeat
// (States.HeartbeatTimeout). A resumed attempt waits on its token again and does not call a
// resource that returned before.
func (r *runner) callbackTask(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	timeout, heartbeat, f := taskTimeouts(st, ev)
	if f != nil {
		return nil, f
	}
	_, resourceType, action := taskKind(st.resource)
	isInvoke := strings.HasPrefix(st.resource, lambdaInvokeArn+".")
	rs := ev.resume
	w := &tokenWait{clock: r.clock}
	task := CallbackTask{ExecutionArn: r.exec.ExecutionArn, StateMachineArn: r.exec.StateMachineArn, State: st.name,
		Resource: st.resource, EnteredEventID: ev.enteredID, RetryCount: ev.attempt}
	if rs != nil {
		task.Token = rs.Token
	}
	token, err := r.callbacks.Open(task, w.deliver)
	if err != nil {
		return nil, named("States.TaskFailed", "cannot issue a task token: "+err.Error())
	}
	defer r.callbacks.Close(token)
	defer w.close()
	ev.ctx.set("Task", obj("Token", token))
	payload, f := taskPayload(st, eff, ev)
	if f != nil {
		return nil, f
	}
	base := map[string]any{"resourceType": resourceType, "resource": action}
	es := &EnteredState{EventID: ev.enteredID, PreviousEventID: ev.enteredPrev, EnteredTime: ev.entered,
		RetryCount: ev.attempt, RetryCounts: append([]int(nil), ev.retryCounts...), Token: token}
	if rs != nil {
		es.Deadline, es.ResourceCalled = rs.Deadline, rs.ResourceCalled
	} else {
		th.emit("TaskScheduled", r.scheduledDetails(resourceType, action, payload, timeout, heartbeat))
		th.emit("TaskStarted", base)
		es.Deadline = r.clock.Now().Add(defaultTaskTimeout)
		if timeout > 0 {
			es.Deadline = r.clock.Now().Add(time.Duration(timeout) * time.Second)
		}
	}
	if !es.ResourceCalled && w.answered() {
		// Resumed with an answer for the token: the resource handed it out before the process
		// died (its TaskSubmitted was not stored). It is not called again.
		es.ResourceCalled = true
	}
	if !es.ResourceCalled {
		// The token must outlive any crash before the resource hands it out: an answer sent
		// with it after a restart has to find the task waiting.
		if f := r.save(th, st.name, ev.stateInput, ev.vars, es, true); f != nil {
			return nil, f
		}
		target, body := invokeTarget(st, payload, isInvoke)
		submitted, f := r.callResource(ctx, st, target, body, payload, isInvoke, es.Deadline)
		if f != nil {
			if f.stop == "" {
				r.emitTaskEnd(th, f, base)
			}
			return nil, f
		}
		d := copyMap(base)
		d["output"], d["outputDetails"] = encodeString(submitted), payloadDetails{}
		th.emit("TaskSubmitted", d)
		es.ResourceCalled = true
		if f := r.save(th, st.name, ev.stateInput, ev.vars, es, true); f != nil {
			return nil, f
		}
	}
	sig, f := r.awaitToken(ctx, w, es.Deadline, heartbeat)
	if f == nil && sig.Kind == SignalFailure {
		f = &failure{Error: sig.Error, Cause: sig.Cause, hasError: true, hasCause: sig.Cause != ""}
	}
	if f != nil {
		if f.stop == "" {
			r.emitTaskEnd(th, f, base)
		}
		return nil, f
	}
	result, perr := parseValue(sig.Output)
	if perr != nil {
		result = string(sig.Output)
	}
	d := copyMap(base)
	d["output"], d["outputDetails"] = encodeString(result), payloadDetails{}
	th.emit("TaskSucceeded", d)
	return result, nil
}

// emitTaskEnd records a service integration task's failure.
func (r *runner) emitTaskEnd(th *thread, f *failure, base map[string]any) {
	if isTimeout(f) {
		th.emit("TaskTimedOut", errorDetails(f, base))
	} else {
		th.emit("TaskFailed", errorDetails(f, base))
	}
}

func isTimeout(f *failure) bool {
	return f.Error == "States.Timeout" || f.Error == "States.HeartbeatTimeout"
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// awaitToken waits until something is delivered for the token, the task's deadline passes
// (States.Timeout), HeartbeatSeconds pass without a heartbeat (States.HeartbeatTimeout) or the
// execution stops.
func (r *runner) awaitToken(ctx context.Context, w *tokenWait, deadline time.Time, heartbeat int64) (*CallbackSignal, *failure) {
	w.mu.Lock()
	if now := r.clock.Now(); now.After(w.beat) {
		w.beat = now // the heartbeat clock starts once the resource has the token
	}
	w.mu.Unlock()
	for {
		w.mu.Lock()
		if w.sig != nil {
			w.closed = true
			s := w.sig
			w.mu.Unlock()
			return s, nil
		}
		now := r.clock.Now()
		wake := deadline
		var beatDue time.Time
		if heartbeat > 0 {
			beatDue = w.beat.Add(time.Duration(heartbeat) * time.Second)
			if beatDue.Before(wake) {
				wake = beatDue
			}
		}
		switch {
		case !now.Before(deadline):
			w.closed = true
			w.mu.Unlock()
			return nil, &failure{Error: "States.Timeout", hasError: true}
		case heartbeat > 0 && !now.Before(beatDue):
			w.closed = true
			w.mu.Unlock()
			return nil, &failure{Error: "States.HeartbeatTimeout", hasError: true}
		}
		sleep, cancel := context.WithCancel(ctx)
		w.wake = cancel
		w.mu.Unlock()
		r.clock.Sleep(sleep, wake.Sub(now)) // ends early when something is delivered
		cancel()
		w.mu.Lock()
		w.wake = nil
		w.mu.Unlock()
		if f := r.stopped(ctx); f != nil {
			w.close()
			return nil, f
		}
	}
}

// invokeResponse wraps a Lambda result the way the lambda:invoke integration returns it.
func invokeResponse(payload any, size int) *object {
	n := fmt.Sprint(size)
	date := time.Now().UTC().Format(time.RFC1123)
	return obj(
		"ExecutedVersion", "$LATEST",
		"Payload", payload,
		"SdkHttpMetadata", obj(
			"AllHttpHeaders", obj(
				"X-Amz-Executed-Version", []any{"$LATEST"},
				"x-amzn-Remapped-Content-Length", []any{"0"},
				"Connection", []any{"keep-alive"},
				"x-amzn-RequestId", []any{"00000000-0000-0000-0000-000000000000"},
				"Content-Length", []any{n},
				"Date", []any{date},
				"X-Amzn-Trace-Id", []any{"Root=1-00000000-000000000000000000000000;Sampled=0"},
				"Content-Type", []any{"application/json"},
			),
			"HttpHeaders", obj(
				"Connection", "keep-alive",
				"Content-Length", n,
				"Content-Type", "application/json",
				"Date", date,
				"X-Amz-Executed-Version", "$LATEST",
				"x-amzn-Remapped-Content-Length", "0",
				"x-amzn-RequestId", "00000000-0000-0000-0000-000000000000",
				"X-Amzn-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0",
			),
			"HttpStatusCode", intNumber(200),
		),
		"SdkResponseMetadata", obj("RequestId", "00000000-0000-0000-0000-000000000000"),
		"StatusCode", intNumber(200),
	)
}
