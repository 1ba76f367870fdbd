package asl

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

func (r *runner) parallel(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	if st.jsonata && st.hasArguments {
		v, err := ev.evalJSONataTemplate(st.arguments, "Arguments")
		if err != nil {
			return nil, asFailure(err)
		}
		eff = v
	} else if st.hasParameters {
		v, err := evalTemplate(st.parameters, ev.with(eff))
		if err != nil {
			return nil, asFailure(err)
		}
		eff = v
	}
	th.emit("ParallelStateStarted", nil)
	results := make([]any, len(st.branches))
	fails := make([]*failure, len(st.branches))
	lasts := make([]int64, len(st.branches))
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, b := range st.branches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := &thread{r: r, last: th.last}
			results[i], fails[i] = r.runGraph(bctx, b, deepCopy(eff), bt, newVarScope(ev.vars))
			lasts[i] = bt.last
			if fails[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for i, f := range fails {
		if f != nil && f.stop != StatusAborted || (f != nil && ctx.Err() != nil) {
			th.last = lasts[i]
			if f.stop == "" {
				th.emit("ParallelStateFailed", nil)
			}
			return nil, f
		}
	}
	for _, l := range lasts {
		if l > th.last {
			th.last = l
		}
	}
	th.emit("ParallelStateSucceeded", nil)
	return results, nil
}

func (r *runner) mapState(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	items := eff
	if st.jsonata {
		v, f := jsonataItems(st, ev, eff)
		if f != nil {
			r.noteEvalFailed(ev, f)
			f.mapStateFailed = true
			return nil, f
		}
		items = v
	} else if st.itemsPath.set && !st.itemsPath.null {
		v, err := ev.with(eff).path(st.itemsPath.path)
		if err != nil {
			return nil, asFailure(runtimeErr("Invalid path '%s' : %v", st.itemsPath.path.src, err))
		}
		items = v
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, asFailure(runtimeErr("Map state input must be an array but was: %s", encodeString(items)))
	}
	// MaxConcurrency is resolved before the Map starts, the tolerated failure
	// thresholds (a Map Run's) after, as AWS records them.
	lim := mapLimit{maxConcurrency: st.maxConcurrency, toleratedCount: -1, toleratedPct: -1}
	if f := lim.resolve(st, ev, "MaxConcurrency"); f != nil {
		return nil, f
	}
	th.emit("MapStateStarted", map[string]any{"length": len(arr)})
	if f := lim.resolve(st, ev, "ToleratedFailureCount", "ToleratedFailurePercentage"); f != nil {
		return nil, f
	}
	// A distributed Map runs its iterations as child executions: the parent
	// history only shows MapRunStarted/MapRunSucceeded.
	distributed := false
	for _, key := range []string{"ItemProcessor", "Iterator"} {
		if ip, ok := st.f.val(key).(*object); ok {
			if pc, ok := ip.val("ProcessorConfig").(*object); ok {
				distributed = pc.val("Mode") == "DISTRIBUTED"
			}
			break
		}
	}
	run := r
	var runStarted int64
	if distributed {
		runStarted = th.emit("MapRunStarted", map[string]any{"mapRunArn": strings.Replace(r.exec.StateMachineArn, ":stateMachine:", ":mapRun:", 1) + "/" + st.name + ":" + uuid.NewString()})
		run = r.child()
	}
	results := make([]any, len(arr))
	ins := make([]any, len(arr))
	for i, it := range arr {
		in := it
		if st.hasItemSelector {
			c := r.contextObject(&state{name: st.name}, r.clock.Now(), &mapItem{index: i, value: it})
			c.set("State", ev.ctx.val("State"))
			iev := ev.with(eff)
			iev.ctx = c
			var v any
			var err error
			if st.jsonata {
				v, err = iev.evalJSONataTemplate(st.itemSelector, "ItemSelector")
			} else {
				v, err = evalTemplate(st.itemSelector, iev)
			}
			if err != nil {
				return nil, asFailure(err)
			}
			in = v
		}
		ins[i] = in
	}
	mth := th
	if distributed {
		mth = &thread{r: run}
	}
	failed, firstFail := run.mapIterations(ctx, st, ins, results, ev.vars, mth, lim)
	if firstFail != nil && firstFail.stop != "" {
		return nil, firstFail
	}
	if !distributed {
		th.last = mth.last
	}
	if failed > 0 && lim.exceeded(failed, len(arr)) {
		f := firstFail
		if lim.tolerant() {
			f = named("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded")
		}
		if distributed {
			th.emit("MapRunFailed", nil)
		}
		f.mapStateFailed = true
		return nil, f
	}
	if distributed {
		th.emit("MapRunSucceeded", nil)
		r.append("MapStateSucceeded", th.last, nil)
		// AWS (recordings since late 2024) chains MapStateExited to MapRunStarted;
		// recordings up to mid 2024 chained it to MapRunSucceeded.
		th.last = runStarted
		return results, nil
	}
	r.append("MapStateSucceeded", th.last, nil) // MapStateExited follows the last iteration, too
	return results, nil
}

// mapLimit holds a Map's MaxConcurrency and tolerated failure thresholds.
type mapLimit struct {
	maxConcurrency int64
	toleratedCount int64   // -1 = not set
	toleratedPct   float64 // -1 = not set
}

func (l mapLimit) tolerant() bool { return l.toleratedCount >= 0 || l.toleratedPct >= 0 }

// exceeded reports whether failed of n iterations fail the Map.
func (l mapLimit) exceeded(failed, n int) bool {
	if !l.tolerant() {
		return failed > 0
	}
	if l.toleratedCount >= 0 && int64(failed) > l.toleratedCount {
		return true
	}
	if l.toleratedPct >= 0 && n > 0 && float64(failed)*100/float64(n) > l.toleratedPct {
		return true
	}
	return false
}

// mapIterations runs the iterations, at most lim.maxConcurrency at a time (0 =
// unbounded). With a tolerated failure threshold a failed iteration's result is
// its error output; otherwise the first failure stops the remaining iterations.
// Sequential runs (MaxConcurrency 1) give the same history as AWS; concurrent
// ones interleave as AWS's do.
func (r *runner) mapIterations(ctx context.Context, st *state, ins, results []any, vars *varScope, th *thread, lim mapLimit) (failed int, first *failure) {
	lastSucceeded := int64(0)
	defer func() {
		if first == nil && lastSucceeded > 0 {
			th.last = lastSucceeded // MapStateSucceeded and MapStateExited follow the last MapIterationSucceeded
		}
	}()
	conc := int(lim.maxConcurrency)
	if conc <= 0 || conc > len(ins) {
		conc = len(ins)
	}
	if _, virtual := r.clock.(*VirtualClock); virtual {
		conc = 1 // a shared virtual clock cannot order concurrent sleeps
	}
	var mu sync.Mutex
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	iterate := func(i int) {
		it := &thread{r: r}
		mu.Lock()
		it.last = th.emit("MapIterationStarted", map[string]any{"name": st.name, "index": i})
		mu.Unlock()
		out, f := r.runGraph(ictx, st.iterator, ins[i], it, newVarScope(vars))
		mu.Lock()
		defer mu.Unlock()
		if f != nil {
			if f.stop != "" {
				if first == nil || first.stop == "" && ctx.Err() != nil {
					first = f
				}
				return
			}
			r.append("MapIterationFailed", it.last, map[string]any{"name": st.name, "index": i})
			th.last = it.last
			failed++
			if first == nil {
				first = f
			}
			errOut := obj("Error", f.Error)
			if f.hasCause {
				errOut.set("Cause", f.Cause)
			}
			results[i] = errOut
			if lim.exceeded(failed, len(ins)) {
				cancel()
			}
			return
		}
		lastSucceeded = r.append("MapIterationSucceeded", it.last, map[string]any{"name": st.name, "index": i})
		th.last = it.last // the next MapIterationStarted follows the iteration's last event
		results[i] = out
	}
	if conc <= 1 {
		for i := range ins {
			iterate(i)
			if first != nil && (first.stop != "" || lim.exceeded(failed, len(ins))) {
				break
			}
		}
		return failed, first
	}
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range ins {
		if ictx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			iterate(i)
		}()
	}
	wg.Wait()
	return failed, first
}

// resolve sets the named limits (MaxConcurrency, ToleratedFailureCount,
// ToleratedFailurePercentage) from literal values, JSONata expressions or the
// *Path fields.
func (lim *mapLimit) resolve(st *state, ev *evalEnv, fields ...string) *failure {
	for _, field := range fields {
		var v any
		var src string
		if raw, ok := st.f.get(field); ok {
			v = raw
			if st.jsonata && isExpr(raw) {
				var err error
				if v, err = ev.evalExpr(raw.(string), field); err != nil {
					return asFailure(err)
				}
			}
		} else if s, ok := st.f.val(field + "Path").(string); ok {
			p, err := compilePath(s)
			if err != nil {
				continue
			}
			if v, err = ev.path(p); err != nil {
				return asFailure(runtimeErr("Invalid path '%s' : %v", s, err))
			}
			src = s
			if str, isStr := v.(string); isStr {
				if _, err := strconv.ParseFloat(str, 64); err == nil {
					v = json.Number(str) // AWS accepts numeric strings here
				}
			}
		} else {
			continue
		}
		if field == "ToleratedFailurePercentage" {
			f, ok := toFloat(v)
			if !ok {
				return asFailure(runtimeErr("The %sPath field refers to value \"%s\" which is not a valid float: %s", field, formatArg(v), src))
			}
			if f < 0 || f > 100 {
				return asFailure(runtimeErr("ToleratedFailurePercentage must be between 0 and 100."))
			}
			lim.toleratedPct = f
			continue
		}
		n, ok := asInteger(v)
		if !ok {
			return asFailure(runtimeErr("The %sPath field refers to value \"%s\" which is not a valid integer: %s", field, formatArg(v), src))
		}
		if n < 0 && field == "ToleratedFailureCount" {
			return asFailure(runtimeErr("ToleratedFailureCount cannot be negative."))
		}
		if field == "MaxConcurrency" {
			lim.maxConcurrency = n
		} else {
			lim.toleratedCount = n
		}
	}
	return nil
}

// jsonataItems evaluates a JSONata Map's Items (default: the state input), which must be an array.
func jsonataItems(st *state, ev *evalEnv, input any) (any, *failure) {
	raw, ok := st.f.get("Items")
	if !ok {
		if _, isArr := input.([]any); !isArr {
			return nil, asFailure(queryError("", "Map state input must be an array but was: %s", encodeString(input)))
		}
		return input, nil
	}
	v, err := ev.evalJSONataTemplate(raw, "Items")
	if err != nil {
		return nil, asFailure(err)
	}
	if _, isArr := v.([]any); !isArr {
		src := encodeString(raw)
		if s, ok := raw.(string); ok && isExpr(s) {
			src = exprBody(s)
		}
		return nil, asFailure(queryError("Items", "The JSONata expression '%s' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '%s' for value: %s", src, jsonTypeName(v), encodeString(v)))
	}
	return v, nil
}
