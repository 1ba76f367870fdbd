package asl

import (
	"testing"
)

// fuzzDoc is the input the fuzzed paths and calls run against: every kind of value, nested.
const fuzzDoc = `{"a":{"b":[1,2.5,"x",true,null,{"c":"d"}],"e":{"f":{"g":1}}},"list":[{"n":1,"s":"a"},{"n":2,"s":"b"}],"s":"a,b,c","num":42,"big":12345678901234567890,"empty":{},"arr":[]}`

// FuzzJSONPath: the engine's JSONPath compiler and evaluator take a state machine author's
// text (and, through Parameters and ResultPath, apply it to execution data). Whatever the
// path, compiling never panics; a compiled path evaluates, and sets a value, without
// panicking and within bounds.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{"$", "$$", "$.a.b[0]", "$.a.b[*]", "$..c", "$..*", "$.list[?(@.n > 1)].s", "$.list[?(@.s == 'a')]",
		"$.a.b[-1:]", "$.a.b[0,2]", "$['a']['b']", "$.a.b[1:10:2]", "$$.Execution.Id", "$var.x", "$.a[", "$[?(@.n >)]", "$...", "$.a.b[99999999999999999999]"} {
		f.Add(s)
	}
	doc, err := parseValue([]byte(fuzzDoc))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := compilePath(src)
		if err != nil {
			return
		}
		ev := &evalEnv{input: deepCopy(doc), ctx: obj("Execution", obj("Id", "arn:x", "Input", deepCopy(doc))), vars: newVarScope(nil)}
		if v, err := ev.path(p); err == nil {
			encodeJSON(v)
		}
		if p.context || p.variable != "" {
			return
		}
		if out, err := setPath(deepCopy(doc), p, "new"); err == nil {
			if len(encodeJSON(out)) > 1<<20 {
				t.Fatalf("setPath(%q) grew the document past 1 MiB", src)
			}
		}
	})
}

// FuzzIntrinsic: the intrinsic-function parser and evaluator (States.Format, States.Array,
// States.StringToJson, ...): whatever the text, parsing never panics, and a parsed call
// evaluates to a value or an error, never a panic.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{
		"States.Format('{} and {}', $.s, $.num)", "States.Array(1, 'two', $.a.b, States.Array())", "States.StringToJson('{\"x\":[1]}')",
		"States.JsonToString($.a)", "States.ArrayPartition($.a.b, 2)", "States.ArrayContains($.a.b, 1)", "States.ArrayRange(1, 9, 2)",
		"States.ArrayGetItem($.a.b, 5)", "States.ArrayLength($.list)", "States.ArrayUnique(States.Array(1,1,2))", "States.Base64Encode($.s)",
		"States.Base64Decode('YWJj')", "States.Hash($.s, 'SHA-256')", "States.JsonMerge($.a, $.list[0], false)", "States.MathRandom(1, 10)",
		"States.MathAdd($.num, -1)", "States.StringSplit($.s, ',')", "States.UUID()", "States.Format('\\{\\}', 1)", "States.Format('{}')",
		"States.Array(", "States.Nope()", "States.MathAdd(1e400, 1)", "States.ArrayRange(0, 1e9, 1)",
	} {
		f.Add(s)
	}
	doc, err := parseValue([]byte(fuzzDoc))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := parseIntrinsic(src)
		if err != nil {
			return
		}
		ev := &evalEnv{input: deepCopy(doc), ctx: obj("Execution", obj("Id", "arn:x")), vars: newVarScope(nil), rand: func() float64 { return 0.5 }}
		if v, err := c.eval(ev); err == nil {
			encodeJSON(v)
		}
	})
}
