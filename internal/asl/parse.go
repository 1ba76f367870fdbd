package asl

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Machine is a parsed, validated state machine definition.
type Machine struct {
	graph *graph
	raw   map[string]json.RawMessage
}

// graph is one StartAt/States scope: the machine itself, a Parallel branch or a Map iterator.
type graph struct {
	startAt        string
	states         map[string]*state
	timeoutSeconds int64 // 0 = none
	queryLanguage  string
}

// optPath is an InputPath/OutputPath/ResultPath field: absent, null or a path.
type optPath struct {
	set, null bool
	path      *jsonPath
}

type retrier struct {
	errorEquals []string
	interval    float64
	maxAttempts int
	backoff     float64
	maxDelay    float64 // 0 = none
	jitterFull  bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  optPath
	raw         *object
	output      any // JSONata Output
	hasOutput   bool
	assign      *object
}

type state struct {
	name, typ string
	f         *object
	next      string
	end       bool
	jsonata   bool // QueryLanguage JSONata

	// JSONata Arguments/Output; Assign (both query languages; nil = none)
	arguments    any
	hasArguments bool
	output       any
	hasOutput    bool
	assign       *object

	inputPath, outputPath, resultPath optPath
	parameters                        any
	hasParameters                     bool
	resultSelector                    any
	hasResultSelector                 bool
	result                            any
	hasResult                         bool
	retry                             []retrier
	catch                             []catcher

	// Task
	resource           string
	timeoutSeconds     int64
	timeoutSecondsPath *jsonPath
	heartbeatPath      *jsonPath

	// Choice
	choices   []*choiceRule
	defaultTo string

	// Wait
	seconds       *int64
	secondsPath   *jsonPath
	timestamp     *time.Time
	timestampPath *jsonPath

	// Fail
	errorName, cause     *string
	errorPath, causePath *jsonPath
	errorCall, causeCall *intrinsicCall

	// Parallel / Map
	branches        []*graph
	iterator        *graph
	itemsPath       optPath
	itemSelector    any
	hasItemSelector bool
	maxConcurrency  int64
}

// Parse parses and validates a definition. Invalid definitions yield *DefinitionError.
func Parse(def []byte) (*Machine, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(def, &raw); err != nil {
		return nil, &DefinitionError{Code: "INVALID_JSON_DESCRIPTION", Message: err.Error()}
	}
	var doc any
	if err := decodeJSON(def, &doc); err != nil {
		return nil, &DefinitionError{Code: "INVALID_JSON_DESCRIPTION", Message: err.Error()}
	}
	top, _ := doc.(*object)
	p := &parser{}
	g := p.graph(top, "", "JSONPath")
	if p.err != nil {
		return nil, p.err
	}
	if v, ok := top.get("TimeoutSeconds"); ok {
		n, ok := asInteger(v)
		if !ok || n <= 0 {
			return nil, &DefinitionError{Code: "SCHEMA_VALIDATION_FAILED", Message: "TimeoutSeconds must be a positive integer at /TimeoutSeconds"}
		}
		g.timeoutSeconds = n
	}
	return &Machine{graph: g, raw: raw}, nil
}

// StartAt names the first state.
func (m *Machine) StartAt() string { return m.graph.startAt }

// States returns the raw top-level state definitions, for drawing diagrams.
func (m *Machine) States() map[string]json.RawMessage {
	var out map[string]json.RawMessage
	_ = json.Unmarshal(m.raw["States"], &out)
	return out
}

type parser struct{ err *DefinitionError }

func (p *parser) fail(code, format string, a ...any) {
	if p.err == nil {
		p.err = &DefinitionError{Code: code, Message: fmt.Sprintf(format, a...)}
	}
}

func (p *parser) schema(format string, a ...any) { p.fail("SCHEMA_VALIDATION_FAILED", format, a...) }

func (p *parser) graph(doc *object, at string, ql string) *graph {
	g := &graph{states: map[string]*state{}, queryLanguage: ql}
	if doc == nil {
		p.schema("Definition must be a JSON object at %s/", at)
		return g
	}
	if q, ok := doc.val("QueryLanguage").(string); ok {
		if q != "JSONPath" && q != "JSONata" {
			p.schema("Value is not one of the allowed values [JSONPath, JSONata] at %s/QueryLanguage", at)
		}
		g.queryLanguage = q
	}
	start, ok := doc.val("StartAt").(string)
	if !ok {
		p.schema("These fields are required: [StartAt] at %s/", at)
	}
	g.startAt = start
	states, ok := doc.val("States").(*object)
	if !ok || states.len() == 0 {
		p.schema("These fields are required: [States] at %s/", at)
		return g
	}
	for i, name := range states.keys {
		sf, ok := states.vals[i].(*object)
		if !ok {
			p.schema("State must be an object at %s/States/%s", at, name)
			continue
		}
		g.states[name] = p.state(name, sf, at+"/States/"+name, g.queryLanguage)
	}
	if _, ok := g.states[start]; !ok && start != "" {
		p.fail("MISSING_TRANSITION_TARGET", "Missing 'Next' target: %s at %s/StartAt", start, at)
	}
	for _, s := range g.states {
		targets := []string{s.next, s.defaultTo}
		for _, c := range s.catch {
			targets = append(targets, c.next)
		}
		for _, c := range s.choices {
			targets = append(targets, c.next)
		}
		for _, t := range targets {
			if t != "" && g.states[t] == nil {
				p.fail("MISSING_TRANSITION_TARGET", "Missing 'Next' target: %s at %s/States/%s", t, at, s.name)
			}
		}
	}
	return g
}

var stateTypes = map[string]bool{"Task": true, "Pass": true, "Choice": true, "Wait": true, "Succeed": true, "Fail": true, "Parallel": true, "Map": true}

func (p *parser) state(name string, f *object, at string, ql string) *state {
	s := &state{name: name, f: f}
	s.typ, _ = f.val("Type").(string)
	if !stateTypes[s.typ] {
		p.schema("Value is not one of the allowed values [Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map] at %s/Type", at)
		return s
	}
	if q, ok := f.val("QueryLanguage").(string); ok {
		ql = q
	}
	if ql == "JSONata" {
		f.set("QueryLanguage", "JSONata")
		s.jsonata = true
	}
	if v, ok := f.get("Arguments"); ok {
		s.arguments, s.hasArguments = v, true
	}
	if v, ok := f.get("Output"); ok {
		s.output, s.hasOutput = v, true
	}
	s.assign = p.assign(f, at, s.jsonata)
	s.next, _ = f.val("Next").(string)
	s.end, _ = f.val("End").(bool)
	switch s.typ {
	case "Choice", "Succeed", "Fail":
	default:
		if s.next == "" && !s.end {
			p.schema("These fields are required: [Next] or [End] at %s", at)
		}
	}
	s.inputPath = p.optPath(f, "InputPath", at)
	s.outputPath = p.optPath(f, "OutputPath", at)
	s.resultPath = p.optPath(f, "ResultPath", at)
	if v, ok := f.get("Parameters"); ok {
		s.parameters, s.hasParameters = v, true
		p.template(v, at+"/Parameters")
	}
	if v, ok := f.get("ResultSelector"); ok {
		s.resultSelector, s.hasResultSelector = v, true
		p.template(v, at+"/ResultSelector")
	}
	if v, ok := f.get("Result"); ok {
		s.result, s.hasResult = v, true
	}
	if rs, ok := f.val("Retry").([]any); ok {
		for i, r := range rs {
			s.retry = append(s.retry, p.retrier(r, fmt.Sprintf("%s/Retry[%d]", at, i), i == len(rs)-1))
		}
	}
	if cs, ok := f.val("Catch").([]any); ok {
		for i, c := range cs {
			cm, _ := c.(*object)
			ca := catcher{raw: cm}
			ca.errorEquals = p.errorEquals(cm.val("ErrorEquals"), fmt.Sprintf("%s/Catch[%d]", at, i), i == len(cs)-1)
			ca.next, _ = cm.val("Next").(string)
			ca.resultPath = p.optPath(cm, "ResultPath", at)
			if v, ok := cm.get("Output"); ok {
				ca.output, ca.hasOutput = v, true
			}
			ca.assign = p.assign(cm, fmt.Sprintf("%s/Catch[%d]", at, i), s.jsonata)
			s.catch = append(s.catch, ca)
		}
	}
	switch s.typ {
	case "Task":
		s.resource, _ = f.val("Resource").(string)
		if s.resource == "" {
			p.schema("These fields are required: [Resource] at %s", at)
		}
		if v, ok := f.get("TimeoutSeconds"); ok {
			n, ok := asInteger(v)
			if !ok || n <= 0 {
				if str, isStr := v.(string); !(isStr && strings.HasPrefix(str, "{%")) {
					p.schema("TimeoutSeconds must be a positive integer at %s/TimeoutSeconds", at)
				}
			}
			s.timeoutSeconds = n
		}
		s.timeoutSecondsPath = p.path(f, "TimeoutSecondsPath", at)
		s.heartbeatPath = p.path(f, "HeartbeatSecondsPath", at)
	case "Choice":
		cs, _ := f.val("Choices").([]any)
		if len(cs) == 0 {
			p.schema("These fields are required: [Choices] at %s", at)
		}
		for i, c := range cs {
			cm, _ := c.(*object)
			r := p.choiceRule(cm, fmt.Sprintf("%s/Choices[%d]", at, i), true)
			r.assign = p.assign(cm, fmt.Sprintf("%s/Choices[%d]", at, i), s.jsonata)
			s.choices = append(s.choices, r)
		}
		s.defaultTo, _ = f.val("Default").(string)
	case "Wait":
		n := 0
		if v, ok := f.get("Seconds"); ok {
			n++
			if i, ok := asInteger(v); ok {
				if i < 0 {
					p.schema("Seconds must be non-negative at %s/Seconds", at)
				}
				s.seconds = &i
			} else if str, ok := v.(string); !ok || !strings.HasPrefix(strings.TrimSpace(str), "{%") {
				p.schema("Seconds must be an integer at %s/Seconds", at)
			}
		}
		if v, ok := f.get("Timestamp"); ok {
			n++
			str, _ := v.(string)
			if t, err := parseTimestamp(str); err == nil {
				s.timestamp = &t
			} else if !(ql == "JSONata" && strings.HasPrefix(strings.TrimSpace(str), "{%")) {
				p.schema("String does not match RFC3339 timestamp at %s/Timestamp", at)
			}
		}
		if _, ok := f.get("SecondsPath"); ok {
			n++
			s.secondsPath = p.path(f, "SecondsPath", at)
		}
		if _, ok := f.get("TimestampPath"); ok {
			n++
			s.timestampPath = p.path(f, "TimestampPath", at)
		}
		if n != 1 {
			p.schema("A Wait state must have exactly one of Seconds, Timestamp, SecondsPath, TimestampPath at %s", at)
		}
	case "Fail":
		if v, ok := f.val("Error").(string); ok {
			s.errorName = &v
		}
		if v, ok := f.val("Cause").(string); ok {
			s.cause = &v
		}
		s.errorPath, s.errorCall = p.pathOrCall(f, "ErrorPath", at)
		s.causePath, s.causeCall = p.pathOrCall(f, "CausePath", at)
	case "Parallel":
		bs, _ := f.val("Branches").([]any)
		for i, b := range bs {
			bm, _ := b.(*object)
			s.branches = append(s.branches, p.graph(bm, fmt.Sprintf("%s/Branches[%d]", at, i), ql))
		}
	case "Map":
		it, ok := f.val("ItemProcessor").(*object)
		if !ok {
			it, _ = f.val("Iterator").(*object)
		}
		s.iterator = p.graph(it, at+"/ItemProcessor", ql)
		s.itemsPath = p.optPath(f, "ItemsPath", at)
		if v, ok := f.get("ItemSelector"); ok {
			s.itemSelector, s.hasItemSelector = v, true
			p.template(v, at+"/ItemSelector")
		} else if v, ok := f.get("Parameters"); ok {
			s.itemSelector, s.hasItemSelector = v, true
			s.hasParameters = false
		}
		if v, ok := f.get("MaxConcurrency"); ok {
			s.maxConcurrency, _ = asInteger(v)
		}
	}
	return s
}

func (p *parser) optPath(f *object, key, at string) optPath {
	v, ok := f.get(key)
	if !ok {
		return optPath{}
	}
	if v == nil {
		return optPath{set: true, null: true}
	}
	str, ok := v.(string)
	if !ok {
		p.schema("%s must be a string at %s/%s", key, at, key)
		return optPath{}
	}
	if f.val("QueryLanguage") == "JSONata" {
		return optPath{}
	}
	jp, err := compilePath(str)
	if err != nil {
		p.schema("The value for the field '%s' must be a valid JSONPath at %s/%s", key, at, key)
		return optPath{}
	}
	return optPath{set: true, path: jp}
}

func (p *parser) path(f *object, key, at string) *jsonPath {
	op := p.optPath(f, key, at)
	return op.path
}

func (p *parser) pathOrCall(f *object, key, at string) (*jsonPath, *intrinsicCall) {
	str, ok := f.val(key).(string)
	if !ok {
		return nil, nil
	}
	if isIntrinsic(str) {
		c, err := parseIntrinsic(str)
		if err != nil {
			p.schema("The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call at %s", key, at)
		}
		return nil, c
	}
	return p.path(f, key, at), nil
}

// assign reads an Assign block; in JSONPath mode it is a payload template.
func (p *parser) assign(f *object, at string, jsonata bool) *object {
	v, ok := f.get("Assign")
	if !ok {
		return nil
	}
	m, ok := v.(*object)
	if !ok {
		p.schema("Assign must be an object at %s/Assign", at)
		return nil
	}
	if !jsonata {
		p.template(m, at+"/Assign")
	}
	return m
}

// template validates a payload template: every ".$" value must be a path or intrinsic call.
func (p *parser) template(v any, at string) {
	switch t := v.(type) {
	case *object:
		for i, k := range t.keys {
			x := t.vals[i]
			if strings.HasSuffix(k, ".$") {
				str, ok := x.(string)
				if !ok || !validDynamic(str) {
					p.schema("The value for the field '%s' must be a valid JSONPath or a valid intrinsic function call at %s", k, at)
				}
				continue
			}
			p.template(x, at)
		}
	case []any:
		for _, x := range t {
			p.template(x, at)
		}
	}
}

func validDynamic(s string) bool {
	if isIntrinsic(s) {
		_, err := parseIntrinsic(s)
		return err == nil
	}
	if strings.HasPrefix(s, "$") {
		_, err := compilePath(s)
		return err == nil
	}
	return false
}

func (p *parser) errorEquals(v any, at string, last bool) []string {
	list, _ := v.([]any)
	if len(list) == 0 {
		p.schema("These fields are required: [ErrorEquals] at %s", at)
	}
	var out []string
	for _, e := range list {
		s, _ := e.(string)
		if s == "States.ALL" && (len(list) != 1 || !last) {
			p.schema("States.ALL must appear alone in the last ErrorEquals at %s", at)
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) retrier(v any, at string, last bool) retrier {
	m, _ := v.(*object)
	r := retrier{interval: 1, maxAttempts: 3, backoff: 2}
	r.errorEquals = p.errorEquals(m.val("ErrorEquals"), at, last)
	if x, ok := m.get("IntervalSeconds"); ok {
		n, ok := asInteger(x)
		if !ok || n < 1 {
			p.schema("IntervalSeconds must be a positive integer at %s/IntervalSeconds", at)
		}
		r.interval = float64(n)
	}
	if x, ok := m.get("MaxAttempts"); ok {
		n, ok := asInteger(x)
		if !ok || n < 0 {
			p.schema("MaxAttempts must be a non-negative integer at %s/MaxAttempts", at)
		}
		r.maxAttempts = int(n)
	}
	if x, ok := m.get("BackoffRate"); ok {
		f, ok := toFloat(x)
		if !ok || f < 1 {
			p.schema("BackoffRate must be a number >= 1.0 at %s/BackoffRate", at)
		}
		r.backoff = f
	}
	if x, ok := m.get("MaxDelaySeconds"); ok {
		n, ok := asInteger(x)
		if !ok || n < 1 {
			p.schema("MaxDelaySeconds must be a positive integer at %s/MaxDelaySeconds", at)
		}
		r.maxDelay = float64(n)
	}
	if x, ok := m.get("JitterStrategy"); ok {
		switch x {
		case "FULL":
			r.jitterFull = true
		case "NONE":
		default:
			p.schema("Value is not one of the allowed values [FULL, NONE] at %s/JitterStrategy", at)
		}
	}
	return r
}

var rfc3339Re = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// parseTimestamp accepts the ISO-8601 extended offset date-time format AWS requires.
func parseTimestamp(s string) (time.Time, error) {
	if !rfc3339Re.MatchString(s) {
		return time.Time{}, fmt.Errorf("not an RFC3339 timestamp")
	}
	return time.Parse(time.RFC3339Nano, s)
}
