package asl

import (
	"fmt"
	"strings"
)

type choiceRule struct {
	and, or   []*choiceRule
	not       *choiceRule
	variable  *jsonPath
	op        string // comparison operator without the Path suffix
	value     any
	valuePath *jsonPath
	next      string
	condition any // JSONata Condition
	assign    *object
	raw       *object
}

var choiceOps = []string{
	"StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals", "StringMatches",
	"NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals",
	"BooleanEquals",
	"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals",
	"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp",
}

func (p *parser) choiceRule(m *object, at string, top bool) *choiceRule {
	r := &choiceRule{raw: m}
	if top {
		r.next, _ = m.val("Next").(string)
		if r.next == "" {
			p.schema("These fields are required: [Next] at %s", at)
		}
	}
	if c, ok := m.get("Condition"); ok {
		r.condition = c
		return r
	}
	if list, ok := m.val("And").([]any); ok {
		for i, x := range list {
			xm, _ := x.(*object)
			r.and = append(r.and, p.choiceRule(xm, fmt.Sprintf("%s/And[%d]", at, i), false))
		}
		return r
	}
	if list, ok := m.val("Or").([]any); ok {
		for i, x := range list {
			xm, _ := x.(*object)
			r.or = append(r.or, p.choiceRule(xm, fmt.Sprintf("%s/Or[%d]", at, i), false))
		}
		return r
	}
	if x, ok := m.val("Not").(*object); ok {
		r.not = p.choiceRule(x, at+"/Not", false)
		return r
	}
	if v, ok := m.val("Variable").(string); ok {
		jp, err := compilePath(v)
		if err != nil {
			p.schema("The value for the field 'Variable' must be a valid JSONPath at %s", at)
		}
		r.variable = jp
	} else {
		p.schema("These fields are required: [Variable] at %s", at)
	}
	for _, op := range choiceOps {
		if v, ok := m.get(op); ok {
			r.op, r.value = op, v
			return r
		}
		if v, ok := m.get(op + "Path"); ok {
			str, _ := v.(string)
			jp, err := compilePath(str)
			if err != nil {
				p.schema("The value for the field '%sPath' must be a valid JSONPath at %s", op, at)
			}
			r.op, r.valuePath = op, jp
			return r
		}
	}
	p.schema("A choice rule must have a comparison operator at %s", at)
	return r
}

// eval evaluates a JSONPath choice rule against the state input.
func (r *choiceRule) eval(ev *evalEnv) (bool, error) {
	switch {
	case r.and != nil:
		for _, c := range r.and {
			ok, err := c.eval(ev)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, c := range r.or {
			ok, err := c.eval(ev)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(ev)
		return !ok, err
	}
	got, err := ev.path(r.variable)
	if r.op == "IsPresent" {
		want, _ := r.value.(bool)
		return (err == nil) == want, nil
	}
	if err != nil {
		return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.src)
	}
	want := r.value
	if r.valuePath != nil {
		want, err = ev.path(r.valuePath)
		if err != nil {
			return false, runtimeErr("Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePath.src)
		}
	}
	return compareChoice(r.op, got, want), nil
}

func compareChoice(op string, got, want any) bool {
	switch op {
	case "IsNull":
		return (got == nil) == (want == true)
	case "IsNumeric":
		return isNumber(got) == (want == true)
	case "IsString":
		_, ok := got.(string)
		return ok == (want == true)
	case "IsBoolean":
		_, ok := got.(bool)
		return ok == (want == true)
	case "IsTimestamp":
		s, ok := got.(string)
		if ok {
			_, err := parseTimestamp(s)
			ok = err == nil
		}
		return ok == (want == true)
	case "BooleanEquals":
		a, ok1 := got.(bool)
		b, ok2 := want.(bool)
		return ok1 && ok2 && a == b
	case "StringMatches":
		a, ok1 := got.(string)
		b, ok2 := want.(string)
		return ok1 && ok2 && wildcardMatch(b, a)
	}
	kind, rel := opKind(op)
	switch kind {
	case "String":
		a, ok1 := got.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false
		}
		return relation(strings.Compare(a, b), rel)
	case "Numeric":
		if !isNumber(got) || !isNumber(want) {
			return false
		}
		return relation(numCompare(got, want), rel)
	case "Timestamp":
		a, ok1 := got.(string)
		b, ok2 := want.(string)
		if !ok1 || !ok2 {
			return false
		}
		ta, err1 := parseTimestamp(a)
		tb, err2 := parseTimestamp(b)
		if err1 != nil || err2 != nil {
			return false
		}
		return relation(ta.Compare(tb), rel)
	}
	return false
}

func opKind(op string) (kind, rel string) {
	for _, k := range []string{"String", "Numeric", "Timestamp"} {
		if strings.HasPrefix(op, k) {
			return k, op[len(k):]
		}
	}
	return "", ""
}

func relation(c int, rel string) bool {
	switch rel {
	case "Equals":
		return c == 0
	case "LessThan":
		return c < 0
	case "GreaterThan":
		return c > 0
	case "LessThanEquals":
		return c <= 0
	case "GreaterThanEquals":
		return c >= 0
	}
	return false
}

// wildcardMatch implements StringMatches: * matches any run, \* and \\ are literal.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		ch   rune
	}
	var toks []tok
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			toks = append(toks, tok{ch: rs[i+1]})
			i++
			continue
		}
		toks = append(toks, tok{star: rs[i] == '*', ch: rs[i]})
	}
	str := []rune(s)
	// dp over positions
	memo := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i == len(toks) {
			return j == len(str)
		}
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var res bool
		if toks[i].star {
			res = match(i+1, j) || (j < len(str) && match(i, j+1))
		} else {
			res = j < len(str) && str[j] == toks[i].ch && match(i+1, j+1)
		}
		memo[k] = res
		return res
	}
	return match(0, 0)
}
