package asl

import (
	"context"
	"sync"
)

func (r *runner) parallel(ctx context.Context, st *state, eff any, ev *evalEnv, th *thread) (any, *failure) {
	if st.hasParameters {
		v, err := evalTemplate(st.parameters, &evalEnv{input: eff, ctx: ev.ctx, rand: ev.rand})
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
			results[i], fails[i] = r.runGraph(bctx, b, deepCopy(eff), bt, nil)
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
	if st.itemsPath.set && !st.itemsPath.null {
		v, err := (&evalEnv{input: eff, ctx: ev.ctx}).path(st.itemsPath.path)
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
			v, err := evalTemplate(st.itemSelector, &evalEnv{input: eff, ctx: c, rand: ev.rand})
			if err != nil {
				return nil, asFailure(err)
			}
			in = v
		}
		th.emit("MapIterationStarted", map[string]any{"name": st.name, "index": i})
		it := &thread{r: r, last: th.last}
		out, f := r.runGraph(ctx, st.iterator, in, it, nil)
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
