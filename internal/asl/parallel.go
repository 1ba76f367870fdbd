package asl

import (
	"context"
	"sync"
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
			th.emit("MapStateFailed", nil)
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
	if f := mapPathChecks(st, ev); f != nil {
		return nil, f
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, asFailure(runtimeErr("Map state input must be an array but was: %s", encodeString(items)))
	}
	th.emit("MapStateStarted", map[string]any{"length": len(arr)})
	results := make([]any, len(arr))
	for i, it := range arr {
		item := &mapItem{index: i, value: it}
		in := it
		if st.hasItemSelector {
			c := r.contextObject(&state{name: st.name}, r.clock.Now(), item)
			c["State"] = ev.ctx["State"]
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
		th.emit("MapIterationStarted", map[string]any{"name": st.name, "index": i})
		it := &thread{r: r, last: th.last}
		out, f := r.runGraph(ctx, st.iterator, in, it, newVarScope(ev.vars))
		if f != nil {
			if f.stop != "" {
				return nil, f
			}
			r.append("MapIterationFailed", it.last, map[string]any{"name": st.name, "index": i})
			th.last = it.last
			th.emit("MapStateFailed", nil)
			return nil, f
		}
		r.append("MapIterationSucceeded", it.last, map[string]any{"name": st.name, "index": i})
		th.last = it.last
		results[i] = out
	}
	th.emit("MapStateSucceeded", nil)
	return results, nil
}

// mapPathChecks validates MaxConcurrencyPath and the ToleratedFailure*Path fields.
func mapPathChecks(st *state, ev *evalEnv) *failure {
	for _, field := range []string{"MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath"} {
		src, ok := st.f[field].(string)
		if !ok {
			continue
		}
		p, err := compilePath(src)
		if err != nil {
			continue
		}
		v, err := ev.path(p)
		if err != nil {
			return asFailure(runtimeErr("Invalid path '%s' : %v", src, err))
		}
		if field == "ToleratedFailurePercentagePath" {
			f, ok := toFloat(v)
			if !ok {
				return asFailure(runtimeErr("The %s field refers to value \"%s\" which is not a valid float: %s", field, formatArg(v), src))
			}
			if f < 0 || f > 100 {
				return asFailure(runtimeErr("ToleratedFailurePercentage must be between 0 and 100."))
			}
			continue
		}
		n, ok := asInteger(v)
		if !ok {
			return asFailure(runtimeErr("The %s field refers to value \"%s\" which is not a valid integer: %s", field, formatArg(v), src))
		}
		if n < 0 && field == "ToleratedFailureCountPath" {
			return asFailure(runtimeErr("ToleratedFailureCount cannot be negative."))
		}
	}
	return nil
}

// jsonataItems evaluates a JSONata Map's Items (default: the state input), which must be an array.
func jsonataItems(st *state, ev *evalEnv, input any) (any, *failure) {
	raw, ok := st.f["Items"]
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
