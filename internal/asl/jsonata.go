package asl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"

	"github.com/google/uuid"
	jsonata "github.com/xiatechs/jsonata-go"
	"github.com/xiatechs/jsonata-go/jtypes"
)

// JSONata support (QueryLanguage "JSONata", ASL 2024-11): "{% expr %}" strings
// are evaluated by github.com/xiatechs/jsonata-go with $states and the state
// machine variables bound, plus the functions AWS adds.

func init() {
	err := jsonata.RegisterExts(map[string]jsonata.Extension{
		"partition": {Func: jsonataPartition},
		"range":     {Func: jsonataRange},
		"hash":      {Func: jsonataHash},
		"random":    {Func: jsonataRandom},
		"uuid":      {Func: func() string { return uuid.NewString() }},
		"parse":     {Func: jsonataParse},
	})
	if err != nil {
		panic(err)
	}
}

func jsonataPartition(arr []any, size float64) ([]any, error) {
	if size <= 0 || size != math.Trunc(size) {
		return nil, fmt.Errorf("the partition size must be a positive integer")
	}
	out := []any{}
	n := int(size)
	for i := 0; i < len(arr); i += n {
		out = append(out, append([]any{}, arr[i:min(i+n, len(arr))]...))
	}
	return out, nil
}

func jsonataRange(start, end, step float64) (any, error) {
	if step == 0 {
		return nil, fmt.Errorf("the step value of $range cannot be 0")
	}
	out := []any{}
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		out = append(out, v)
		if len(out) > 1000 {
			return nil, fmt.Errorf("the $range result exceeds the maximum of 1000 elements")
		}
	}
	if len(out) == 1 {
		return out[0], nil // a singleton sequence
	}
	return out, nil
}

func jsonataHash(data any, algo string) (string, error) {
	v, err := callIntrinsic("States.Hash", []any{fromJSONata(data), algo}, nil)
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func jsonataRandom(_ jtypes.OptionalFloat64) float64 {
	// AWS accepts an optional seed; a seeded generator is not reproducible
	// across engines anyway, so the seed is ignored.
	return rand.Float64()
}

func jsonataParse(s string) (any, error) {
	var v any
	if err := decodeJSON([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("$parse: invalid JSON text")
	}
	return toJSONata(v), nil
}

// isExpr reports whether s is a "{% ... %}" JSONata expression.
func isExpr(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	return len(s) >= 4 && strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}")
}

func exprBody(s string) string { return strings.TrimSpace(s[2 : len(s)-2]) }

// jsonataNull is how jsonata-go represents JSON null.
var jsonataNull *any

// jsonataOrder carries object member order across the jsonata-go boundary,
// which computes with plain maps. Objects handed in are remembered by map
// identity, so a result that passes one through keeps its order; objects the
// expression builds are ordered by where their keys are written in the
// expression; anything else falls back to key order.
type jsonataOrder struct {
	known map[uintptr]*object
	seen  []*object // the objects handed in, in order
	src   string
	rank  map[string]int
}

// toJSONata converts a value to the types jsonata-go computes with (float64 numbers, maps).
func toJSONata(v any) any { return (*jsonataOrder)(nil).to(v) }

func (jo *jsonataOrder) to(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case *object:
		m := make(map[string]any, t.len())
		for i, k := range t.keys {
			m[k] = jo.to(t.vals[i])
		}
		if jo != nil {
			if jo.known == nil {
				jo.known = map[uintptr]*object{}
			}
			jo.known[reflect.ValueOf(m).Pointer()] = t
			jo.seen = append(jo.seen, t)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = jo.to(x)
		}
		return a
	}
	return v
}

// fromJSONata converts a jsonata-go result back to a value (json.Number numbers, objects).
func fromJSONata(v any) any { return (*jsonataOrder)(nil).from(v) }

func (jo *jsonataOrder) from(v any) any {
	switch t := v.(type) {
	case nil, string, bool, json.Number:
		return t
	case *any:
		if t == nil {
			return nil
		}
		return jo.from(*t)
	case float64:
		return numberOf(t)
	case int:
		return intNumber(int64(t))
	case int64:
		return intNumber(t)
	case *object:
		return t
	case map[string]any:
		keys := jo.order(t)
		o := newObject(len(keys))
		for _, k := range keys {
			o.set(k, jo.from(t[k]))
		}
		return o
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = jo.from(x)
		}
		return a
	}
	// Anything else (e.g. a function value): round-trip through JSON.
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if decodeJSON(b, &out) != nil {
		return nil
	}
	return out
}

// order lists m's keys: an input object's order when m is (a filtered form
// of) one, else by the position of the key in the expression, else sorted.
func (jo *jsonataOrder) order(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	if jo != nil {
		if o := jo.known[reflect.ValueOf(m).Pointer()]; o != nil {
			for _, k := range o.keys {
				if _, ok := m[k]; ok {
					keys = append(keys, k)
				}
			}
			if len(keys) == len(m) {
				return keys
			}
			keys = keys[:0]
		}
	}
	for k := range m {
		keys = append(keys, k)
	}
	pos := func(k string) int {
		if jo == nil {
			return -1
		}
		i := strings.Index(jo.src, `"`+k+`"`)
		if j := strings.Index(jo.src, "'"+k+"'"); j >= 0 && (i < 0 || j < i) {
			i = j
		}
		return i
	}
	// Keys not written in the expression (e.g. from $merge) follow the order
	// they first had in the objects handed in.
	known := func(k string) int {
		if jo == nil {
			return -1
		}
		if jo.rank == nil {
			jo.rank = map[string]int{}
			for _, o := range jo.seen {
				for _, x := range o.keys {
					if _, ok := jo.rank[x]; !ok {
						jo.rank[x] = len(jo.rank)
					}
				}
			}
		}
		if r, ok := jo.rank[k]; ok {
			return r
		}
		return -1
	}
	sort.Slice(keys, func(a, b int) bool {
		pa, pb := pos(keys[a]), pos(keys[b])
		if pa < 0 && pb < 0 {
			pa, pb = known(keys[a]), known(keys[b])
		}
		switch {
		case pa >= 0 && pb >= 0 && pa != pb:
			return pa < pb
		case pa >= 0 && pb < 0:
			return true
		case pa < 0 && pb >= 0:
			return false
		}
		return keys[a] < keys[b]
	})
	return keys
}

// statesVar builds the $states object: input, context and, where defined, result and errorOutput.
func (ev *evalEnv) statesVar() *object {
	s := obj("input", ev.stateInput, "context", ev.ctx)
	if ev.hasResult {
		s.set("result", ev.result)
	}
	if ev.hasErrorOutput {
		s.set("errorOutput", ev.errorOutput)
	}
	return s
}

// queryError is a States.QueryEvaluationError; location is the field (e.g. "Output/result").
func queryError(location, format string, a ...any) error {
	return failErr{&failure{Error: "States.QueryEvaluationError", Cause: fmt.Sprintf(format, a...), hasError: true, hasCause: true, stateScoped: true, evalFailed: true, location: location}}
}

// evalExpr evaluates one "{% ... %}" string for the field named location.
func (ev *evalEnv) evalExpr(src, location string) (any, error) {
	body := exprBody(src)
	e, err := jsonata.Compile(body)
	if err != nil {
		return nil, queryError(location, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %v", body, location, err)
	}
	jo := &jsonataOrder{src: body}
	vars := map[string]any{}
	if ev.vars != nil {
		for k, v := range ev.vars.all() {
			if v == nil {
				vars[k] = jsonataNull // a bare nil would read as undefined
				continue
			}
			vars[k] = jo.to(v)
		}
	}
	vars["states"] = jo.to(ev.statesVar())
	if err := e.RegisterVars(vars); err != nil {
		return nil, queryError(location, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %v", body, location, err)
	}
	v, err := e.Eval(nil)
	if errors.Is(err, jsonata.ErrUndefined) {
		return nil, queryError(location, "The JSONata expression '%s' specified for the field '%s' returned nothing (undefined).", body, location)
	}
	if err != nil {
		return nil, queryError(location, "The JSONata expression '%s' specified for the field '%s' threw an error during evaluation. %s", body, location, jsonataErrorText(err))
	}
	return jo.from(v), nil
}

// jsonataErrorText renders an evaluation error with the jsonata-js code where known.
func jsonataErrorText(err error) string {
	var ee *jsonata.EvalError
	if errors.As(err, &ee) {
		switch ee.Type {
		case jsonata.ErrNonCallable, jsonata.ErrNonCallableApply, jsonata.ErrNonCallablePartial:
			return "T1006: Attempted to invoke a non-function"
		case jsonata.ErrNonNumberLHS:
			return "T2001: The left side of the arithmetic expression is not a number"
		case jsonata.ErrNonNumberRHS:
			return "T2002: The right side of the arithmetic expression is not a number"
		case jsonata.ErrNumberInf:
			return "D1001: Number out of range"
		}
	}
	return err.Error()
}

// evalJSONataTemplate evaluates a JSONata-mode field (Arguments, Output, Assign
// values, ItemSelector): "{% %}" strings anywhere inside are evaluated, the rest is literal.
func (ev *evalEnv) evalJSONataTemplate(t any, location string) (any, error) {
	switch x := t.(type) {
	case string:
		if isExpr(x) {
			return ev.evalExpr(x, location)
		}
		return x, nil
	case *object:
		out := newObject(x.len())
		for i, k := range x.keys {
			val, err := ev.evalJSONataTemplate(x.vals[i], location+"/"+k)
			if err != nil {
				return nil, err
			}
			out.set(k, val)
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			val, err := ev.evalJSONataTemplate(v, fmt.Sprintf("%s[%d]", location, i))
			if err != nil {
				return nil, err
			}
			out[i] = val
		}
		return out, nil
	}
	return deepCopy(t), nil
}
