package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

func (r *runner) runGraph(ctx context.Context, g *graph, input any, th *thread, vars *varScope) (any, *failure) {
	return r.runGraphFrom(ctx, g, g.startAt, input, th, vars, false)
}

// runGraphFrom runs g from the state name; resumed: that state's checkpoint was taken already.
func (r *runner) runGraphFrom(ctx context.Context, g *graph, name string, input any, th *thread, vars *varScope, resumed bool) (any, *failure) {
	for {
		st := g.states[name]
		if !resumed {
			if f := r.save(th, name, input, vars, nil, false); f != nil {
				return nil, f
			}
		}
		resumed = false
		out, next, f := r.runState(ctx, st, input, th, vars)
		if f != nil {
			return nil, f
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// scope adds the "An error occurred while executing the state" prefix once.
func (f *failure) scope(st *state, enteredID int64) {
	if f.stateScoped {
		f.Cause = fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.name, enteredID, f.Cause)
		f.stateScoped = false
	}
}

// noteEvalFailed emits the EvaluationFailed event that precedes a
// States.QueryEvaluationError (once per failure).
func (r *runner) noteEvalFailed(ev *evalEnv, f *failure) {
	if f == nil || !f.evalFailed || ev.st == nil {
		return
	}
	f.evalFailed = false
	f.scope(ev.st, ev.enteredID)
	prev := ev.enteredPrev
	if ev.st.typ == "Wait" {
		prev = ev.enteredID
	}
	d := map[string]any{"error": f.Error, "cause": f.Cause, "state": ev.st.name}
	if f.location != "" {
		d["location"] = f.location
	}
	ev.th.last = r.append("EvaluationFailed", prev, d)
}

func exitedDetails(name string, out any, assigned map[string]any) map[string]any {
	d := stateExitedDetails(name, out)
	if len(assigned) > 0 {
		d["assignedVariables"] = assignedDetails(assigned)
		d["assignedVariablesDetails"] = payloadDetails{}
	}
	return d
}

// evalAssign evaluates an Assign block against the state-entry variables. In
// JSONPath mode "$" is root (the state's result, or its error output in a Catcher).
func evalAssign(st *state, assign *object, ev *evalEnv, root any) (map[string]any, error) {
	if assign == nil {
		return nil, nil
	}
	var v any
	var err error
	if st.jsonata {
		v, err = ev.evalJSONataTemplate(assign, "Assign")
	} else {
		v, err = evalTemplate(assign, ev.with(root))
	}
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if o, ok := v.(*object); ok {
		for i, k := range o.keys {
			m[k] = o.vals[i]
		}
	}
	return m, nil
}

func (r *runner) runState(ctx context.Context, st *state, input any, th *thread, vars *varScope) (out any, next string, f *failure) {
	if f := r.stopped(ctx); f != nil {
		return nil, "", f
	}
	var enteredID, enteredPrev int64
	entered := r.clock.Now()
	rs := r.takeResume(th)
	if rs != nil {
		// Resumed within the state: it was entered before the restart.
		enteredID, enteredPrev, entered = rs.EventID, rs.PreviousEventID, rs.EnteredTime
		th.enteredText = ""
		if st.typ != "Wait" && !(st.typ == "Task" && strings.HasSuffix(st.resource, callbackSuffix)) {
			return nil, "", asFailure(runtimeErr("Cannot resume the execution within the %s state '%s'", st.typ, st.name))
		}
	} else {
		enteredPrev = th.last
		enteredDetails := stateEnteredDetails(st.name, input)
		if th.enteredText != "" {
			enteredDetails["input"], th.enteredText = th.enteredText, ""
		}
		enteredID = th.emit(st.typ+"StateEntered", enteredDetails)
	}
	ev := &evalEnv{input: input, ctx: r.contextObject(st, entered, nil), rand: r.rand, vars: vars, stateInput: input,
		st: st, th: th, enteredID: enteredID, enteredPrev: enteredPrev, entered: entered, resume: rs}
	defer func() {
		if f != nil {
			r.noteEvalFailed(ev, f)
			f.scope(st, enteredID)
		}
	}()
	switch st.typ {
	case "Fail":
		return nil, "", r.failState(st, ev)
	case "Task", "Parallel", "Map":
		return r.retryingState(ctx, st, input, ev, th)
	}
	// Pass, Succeed, Choice, Wait
	eff := input
	if !st.jsonata {
		v, err := applyInput(st.inputPath, ev)
		if err != nil {
			return nil, "", asFailure(err)
		}
		eff = v
	}
	assign := st.assign
	result := eff // what a JSONPath Assign and ResultPath see
	next = endOrNext(st)
	switch st.typ {
	case "Succeed":
		next = ""
	case "Choice":
		rule, err := choose(st, ev.with(eff))
		if err != nil {
			return nil, "", asFailure(err)
		}
		next = st.defaultTo
		if rule != nil {
			next = rule.next
			if rule.assign != nil {
				assign = rule.assign
			}
		}
		if next == "" {
			return nil, "", asFailure(runtimeErr("No Matches!"))
		}
	case "Wait":
		if f := r.wait(ctx, st, eff, ev); f != nil {
			return nil, "", f
		}
	case "Pass":
		if !st.jsonata {
			if st.hasParameters {
				v, err := evalTemplate(st.parameters, ev.with(eff))
				if err != nil {
					return nil, "", asFailure(err)
				}
				eff = v
			}
			result = eff
			if st.hasResult {
				result = deepCopy(st.result)
			}
		}
	}
	assigned, err := evalAssign(st, assign, ev, result)
	if err != nil {
		return nil, "", asFailure(err)
	}
	switch {
	case st.jsonata:
		out = input
		if st.hasOutput {
			out, err = ev.evalJSONataTemplate(st.output, "Output")
		}
	case st.typ == "Pass":
		out, err = applyResult(st, input, result, ev)
	default:
		out, err = applyOutputPath(st.outputPath, eff, ev)
	}
	if err != nil {
		return nil, "", asFailure(err)
	}
	if st.typ == "Pass" && len(encodeJSON(out)) > maxPayloadBytes {
		return nil, "", named("States.DataLimitExceeded", fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.name))
	}
	vars.assign(assigned)
	th.emit(st.typ+"StateExited", exitedDetails(st.name, out, assigned))
	return out, next, nil
}

// choose returns the first matching Choice rule, or nil.
func choose(st *state, ev *evalEnv) (*choiceRule, error) {
	for _, c := range st.choices {
		var ok bool
		var err error
		if st.jsonata {
			ok, err = ev.condition(c.condition)
		} else {
			ok, err = c.eval(ev)
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return c, nil
		}
	}
	return nil, nil
}

// condition evaluates a JSONata Choice rule Condition.
func (ev *evalEnv) condition(c any) (bool, error) {
	v := c
	if isExpr(c) {
		var err error
		if v, err = ev.evalExpr(c.(string), "Condition"); err != nil {
			return false, err
		}
	}
	b, ok := v.(bool)
	if !ok {
		src, _ := c.(string)
		return false, queryError("Condition", "The JSONata expression '%s' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '%s' for value: %s", exprBody(src), jsonTypeName(v), encodeString(v))
	}
	return b, nil
}

func endOrNext(st *state) string {
	if st.end {
		return ""
	}
	return st.next
}

func (r *runner) failState(st *state, ev *evalEnv) *failure {
	f := &failure{}
	if st.errorName != nil {
		f.Error, f.hasError = *st.errorName, true
	}
	if st.cause != nil {
		f.Cause, f.hasCause = *st.cause, true
	}
	if st.jsonata {
		for _, field := range []string{"Error", "Cause"} {
			raw, ok := st.f.val(field).(string)
			if !ok || !isExpr(raw) {
				continue
			}
			v, err := ev.evalExpr(raw, field)
			if err != nil {
				return asFailure(err)
			}
			s, ok := v.(string)
			if !ok {
				s = encodeString(v)
			}
			if field == "Error" {
				f.Error = s
			} else {
				f.Cause = s
			}
		}
		return f
	}
	resolve := func(p *jsonPath, c *intrinsicCall, field string) (string, bool, *failure) {
		var v any
		var err error
		switch {
		case c != nil:
			v, err = c.eval(ev)
		case p != nil:
			v, err = ev.path(p)
			if err != nil {
				return "", false, asFailure(runtimeErr("The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'", p.src, field, encodeString(ev.input)))
			}
		default:
			return "", false, nil
		}
		if err != nil {
			return "", false, asFailure(err)
		}
		s, ok := v.(string)
		if !ok {
			s = encodeString(v)
		}
		return s, true, nil
	}
	if s, ok, fail := resolve(st.errorPath, st.errorCall, "ErrorPath"); fail != nil {
		return fail
	} else if ok {
		f.Error, f.hasError = s, true
	}
	if s, ok, fail := resolve(st.causePath, st.causeCall, "CausePath"); fail != nil {
		return fail
	} else if ok {
		f.Cause, f.hasCause = s, true
	}
	return f
}

func (r *runner) wait(ctx context.Context, st *state, eff any, ev *evalEnv) *failure {
	var wake time.Time
	if ev.resume != nil {
		wake = ev.resume.WakeAt
	} else {
		d, f := r.waitFor(st, eff, ev)
		if f != nil || d <= 0 {
			return f
		}
		wake = r.clock.Now().Add(d)
		es := &EnteredState{EventID: ev.enteredID, PreviousEventID: ev.enteredPrev, EnteredTime: ev.entered, WakeAt: wake}
		if f := r.save(ev.th, st.name, ev.stateInput, ev.vars, es, false); f != nil {
			return f
		}
	}
	if d := wake.Sub(r.clock.Now()); d > 0 {
		if err := r.clock.Sleep(ctx, d); err != nil {
			if f := r.stopped(ctx); f != nil {
				return f
			}
			return &failure{stop: StatusTimedOut}
		}
	}
	return nil
}

// waitFor is how long a Wait state waits.
func (r *runner) waitFor(st *state, eff any, ev *evalEnv) (time.Duration, *failure) {
	var d time.Duration
	switch {
	case st.jsonata && isExpr(st.f.val("Seconds")):
		v, err := ev.evalExpr(st.f.val("Seconds").(string), "Seconds")
		if err != nil {
			return 0, asFailure(err)
		}
		n, ok := asInteger(v)
		if !ok || n < 0 {
			return 0, asFailure(queryError("Seconds", "The Seconds field must be a non-negative integer, but was: %s", encodeString(v)))
		}
		d = time.Duration(n) * time.Second
	case st.jsonata && isExpr(st.f.val("Timestamp")):
		v, err := ev.evalExpr(st.f.val("Timestamp").(string), "Timestamp")
		if err != nil {
			return 0, asFailure(err)
		}
		s, _ := v.(string)
		t, perr := parseTimestamp(s)
		if perr != nil {
			return 0, asFailure(queryError("Timestamp", "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: %s", formatArg(v)))
		}
		d = t.Sub(r.clock.Now())
	case st.seconds != nil:
		d = time.Duration(*st.seconds) * time.Second
	case st.timestamp != nil:
		d = st.timestamp.Sub(r.clock.Now())
	case st.secondsPath != nil:
		v, err := ev.pathOn(st.secondsPath, eff)
		if err != nil {
			return 0, asFailure(runtimeErr("Invalid path '%s' : %v", st.secondsPath.src, err))
		}
		n, ok := asInteger(v)
		if _, isNum := v.(json.Number); !ok || (isNum && strings.ContainsAny(string(v.(json.Number)), ".eE")) {
			return 0, asFailure(runtimeErr("The SecondsPath parameter cannot be parsed as a long value: %s == %s", st.secondsPath.src, formatArg(v)))
		}
		if n < 0 {
			return 0, asFailure(runtimeErr("The SecondsPath parameter references a negative value: %s == %d", st.secondsPath.src, n))
		}
		d = time.Duration(n) * time.Second
	case st.timestampPath != nil:
		v, err := ev.pathOn(st.timestampPath, eff)
		if err != nil {
			return 0, asFailure(runtimeErr("Invalid path '%s' : %v", st.timestampPath.src, err))
		}
		s, _ := v.(string)
		t, perr := parseTimestamp(s)
		if perr != nil {
			return 0, asFailure(runtimeErr("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s == %s", st.timestampPath.src, formatArg(v)))
		}
		d = t.Sub(r.clock.Now())
	}
	if d > time.Duration(math.MaxInt32)*time.Second {
		return 0, asFailure(runtimeErr("Wait state delay is too long."))
	}
	return d, nil
}

// retryingState runs a Task, Parallel or Map state with its Retry and Catch.
func (r *runner) retryingState(ctx context.Context, st *state, input any, ev *evalEnv, th *thread) (any, string, *failure) {
	counts := make([]int, len(st.retry))
	first := 0
	if rs := ev.resume; rs != nil {
		copy(counts, rs.RetryCounts)
		first = rs.RetryCount
	}
	for attempt := first; ; attempt++ {
		if attempt > first {
			ev.resume = nil // only the attempt in progress is resumed
		}
		ev.attempt, ev.retryCounts = attempt, counts
		var result any
		var f *failure
		eff := input
		if !st.jsonata {
			v, err := applyInput(st.inputPath, ev)
			if err != nil {
				return nil, "", asFailure(err)
			}
			eff = v
		}
		switch st.typ {
		case "Task":
			ev.ctx.val("State").(*object).set("RetryCount", intNumber(int64(attempt)))
			result, f = r.task(ctx, st, eff, ev, th)
		case "Parallel":
			result, f = r.parallel(ctx, st, eff, ev, th)
		case "Map":
			result, f = r.mapState(ctx, st, eff, ev, th)
		}
		if f == nil {
			if !st.jsonata && st.hasResultSelector {
				sel, err := evalTemplate(st.resultSelector, ev.with(result))
				if err != nil {
					return nil, "", asFailure(err)
				}
				result = sel
			}
			rev := *ev
			rev.result, rev.hasResult = result, true
			assigned, err := evalAssign(st, st.assign, &rev, result)
			if err != nil {
				return nil, "", asFailure(err)
			}
			var out any
			if st.jsonata {
				out = result
				if st.hasOutput {
					out, err = rev.evalJSONataTemplate(st.output, "Output")
				}
			} else {
				out, err = applyResult(st, input, result, ev)
			}
			if err != nil {
				return nil, "", asFailure(err)
			}
			ev.vars.assign(assigned)
			th.emit(st.typ+"StateExited", exitedDetails(st.name, out, assigned))
			return out, endOrNext(st), nil
		}
		r.noteEvalFailed(ev, f)
		if f.uncatchable || f.stop != "" {
			if f.mapStateFailed && f.stop == "" {
				th.emit("MapStateFailed", nil)
			}
			return nil, "", f
		}
		if i := matchRetrier(st, f); i >= 0 {
			rt := st.retry[i]
			if counts[i] < rt.maxAttempts {
				f.mapStateFailed = false
				delay := retryDelay(rt, counts[i], r.rand)
				counts[i]++
				if delay > 0 {
					if err := r.clock.Sleep(ctx, delay); err != nil {
						if sf := r.stopped(ctx); sf != nil {
							return nil, "", sf
						}
						return nil, "", &failure{stop: StatusTimedOut}
					}
				}
				continue
			}
		}
		if f.mapStateFailed {
			f.mapStateFailed = false
			th.emit("MapStateFailed", nil)
		}
		for _, c := range st.catch {
			if !errorMatches(st, c.errorEquals, f) {
				continue
			}
			f.scope(st, ev.enteredID)
			errOut := obj("Error", f.Error)
			if f.hasCause || isTimeout(f) {
				errOut.set("Cause", f.Cause)
			}
			cev := *ev
			cev.errorOutput, cev.hasErrorOutput = errOut, true
			assigned, err := evalAssign(st, c.assign, &cev, errOut)
			if err != nil {
				return nil, "", asFailure(err)
			}
			var out any
			if st.jsonata {
				out = errOut
				if c.hasOutput {
					out, err = cev.evalJSONataTemplate(c.output, "Output")
				}
			} else {
				out, err = applyResultPath(c.resultPath, input, errOut)
			}
			if err != nil {
				return nil, "", asFailure(err)
			}
			ev.vars.assign(assigned)
			th.emit(st.typ+"StateExited", exitedDetails(st.name, out, assigned))
			return out, c.next, nil
		}
		return nil, "", f
	}
}
