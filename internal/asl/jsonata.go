package asl

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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

// toJSONata converts a value to the types jsonata-go computes with (float64 numbers).
func toJSONata(v any) any {
	switch t := v.(type) {
	case json.Number:
		f, _ := t.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = toJSONata(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = toJSONata(x)
		}
		return a
	}
	return v
}

// fromJSONata converts a jsonata-go result back to a value (json.Number numbers).
func fromJSONata(v any) any {
	switch t := v.(type) {
	case nil, string, bool, json.Number:
		return t
	case *any:
		if t == nil {
			return nil
		}
		return fromJSONata(*t)
	case float64:
		return numberOf(t)
	case int:
		return intNumber(int64(t))
	case int64:
		return intNumber(t)
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = fromJSONata(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = fromJSONata(x)
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

// statesVar builds the $states object: input, context and, where defined, result and errorOutput.
func (ev *evalEnv) statesVar() map[string]any {
	s := map[string]any{"input": ev.stateInput, "context": ev.ctx}
	if ev.hasResult {
		s["result"] = ev.result
	}
	if ev.hasErrorOutput {
		s["errorOutput"] = ev.errorOutput
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
	vars := map[string]any{}
	if ev.vars != nil {
		for k, v := range ev.vars.all() {
			if v == nil {
				vars[k] = jsonataNull // a bare nil would read as undefined
				continue
			}
			vars[k] = toJSONata(v)
		}
	}
	vars["states"] = toJSONata(ev.statesVar())
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
	return fromJSONata(v), nil
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
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			val, err := ev.evalJSONataTemplate(v, location+"/"+k)
			if err != nil {
				return nil, err
			}
			out[k] = val
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
