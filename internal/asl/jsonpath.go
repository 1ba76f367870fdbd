package asl

import (
	"fmt"
	"strconv"
	"strings"
)

// A jsonPath is a compiled JSONPath (Jayway dialect, as AWS uses): $ or $$,
// .name, ['name'], [n], [*], .*, [a:b], [a,b], ..name and [?(@.x op v)].
type jsonPath struct {
	src      string
	context  bool   // starts with $$
	variable string // $name...: starts at the state machine variable name
	steps    []pathStep
}

type stepKind int

const (
	stepField stepKind = iota
	stepIndex
	stepWildcard
	stepSlice
	stepUnion
	stepDeep
	stepFilter
)

type pathStep struct {
	kind       stepKind
	name       string
	index      int
	names      []string
	indexes    []int
	start, end *int
	filter     *filterExpr
}

func (s pathStep) definite() bool { return s.kind == stepField || s.kind == stepIndex }

// pathNotFound carries Jayway's wording for a definite path that matched nothing.
type pathNotFound struct{ detail string }

func (e *pathNotFound) Error() string { return e.detail }

func compilePath(src string) (*jsonPath, error) {
	p := &jsonPath{src: src}
	s := strings.TrimSpace(src)
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		s = s[2:]
	case strings.HasPrefix(s, "$"):
		s = s[1:]
		if len(s) > 0 && (s[0] == '_' || s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
			p.variable, s = scanName(s)
		}
	default:
		return nil, fmt.Errorf("path must start with $")
	}
	for len(s) > 0 {
		switch {
		case strings.HasPrefix(s, ".."):
			s = s[2:]
			name, rest := scanName(s)
			if name == "" && strings.HasPrefix(rest, "*") {
				name, rest = "*", rest[1:]
			}
			if name == "" {
				return nil, fmt.Errorf("bad deep scan in %q", src)
			}
			p.steps = append(p.steps, pathStep{kind: stepDeep, name: name})
			s = rest
		case s[0] == '.':
			s = s[1:]
			if strings.HasPrefix(s, "*") {
				p.steps = append(p.steps, pathStep{kind: stepWildcard})
				s = s[1:]
				continue
			}
			name, rest := scanName(s)
			if name == "" {
				return nil, fmt.Errorf("empty property in %q", src)
			}
			p.steps = append(p.steps, pathStep{kind: stepField, name: name})
			s = rest
		case s[0] == '[':
			end := matchingBracket(s)
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", src)
			}
			st, err := parseBracket(strings.TrimSpace(s[1:end]))
			if err != nil {
				return nil, fmt.Errorf("%v in %q", err, src)
			}
			p.steps = append(p.steps, st)
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q in %q", s[:1], src)
		}
	}
	return p, nil
}

func scanName(s string) (string, string) {
	i := 0
	for i < len(s) && s[i] != '.' && s[i] != '[' {
		i++
	}
	return s[:i], s[i:]
}

func matchingBracket(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 && c == ']' {
				return i
			}
		}
	}
	return -1
}

func parseBracket(in string) (pathStep, error) {
	switch {
	case in == "*":
		return pathStep{kind: stepWildcard}, nil
	case strings.HasPrefix(in, "?"):
		body := strings.TrimSpace(in[1:])
		if !strings.HasPrefix(body, "(") || !strings.HasSuffix(body, ")") {
			return pathStep{}, fmt.Errorf("bad filter")
		}
		f, err := parseFilter(body[1 : len(body)-1])
		if err != nil {
			return pathStep{}, err
		}
		return pathStep{kind: stepFilter, filter: f}, nil
	case strings.HasPrefix(in, "'") || strings.HasPrefix(in, "\""):
		var names []string
		for _, part := range splitTop(in, ',') {
			part = strings.TrimSpace(part)
			if len(part) < 2 || part[0] != part[len(part)-1] {
				return pathStep{}, fmt.Errorf("bad quoted name")
			}
			names = append(names, strings.ReplaceAll(part[1:len(part)-1], "\\'", "'"))
		}
		if len(names) == 1 {
			return pathStep{kind: stepField, name: names[0]}, nil
		}
		return pathStep{kind: stepUnion, names: names}, nil
	case strings.Contains(in, ":"):
		parts := strings.Split(in, ":")
		st := pathStep{kind: stepSlice}
		for i, part := range parts[:2] {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathStep{}, fmt.Errorf("bad slice")
			}
			if i == 0 {
				st.start = &n
			} else {
				st.end = &n
			}
		}
		return st, nil
	case strings.Contains(in, ","):
		var idx []int
		for _, part := range strings.Split(in, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return pathStep{}, fmt.Errorf("bad index")
			}
			idx = append(idx, n)
		}
		return pathStep{kind: stepUnion, indexes: idx}, nil
	default:
		n, err := strconv.Atoi(in)
		if err != nil {
			return pathStep{}, fmt.Errorf("bad index %q", in)
		}
		return pathStep{kind: stepIndex, index: n}, nil
	}
}

func splitTop(s string, sep byte) []string {
	var out []string
	var quote byte
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch {
		case c == '\'' || c == '"':
			quote = c
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func (p *jsonPath) definite() bool {
	for _, s := range p.steps {
		if !s.definite() {
			return false
		}
	}
	return true
}

// eval applies the path to root. A definite path returns the single value or a
// *pathNotFound; an indefinite one returns the (possibly empty) list of matches.
func (p *jsonPath) eval(root any) (any, error) {
	if p.definite() {
		cur := root
		for i, st := range p.steps {
			next, ok := stepDefinite(cur, st)
			if !ok {
				prefix := jaywayPath(p.steps[:i+1])
				if i == len(p.steps)-1 {
					return nil, &pathNotFound{"No results for path: " + prefix}
				}
				return nil, &pathNotFound{"Missing property in path " + prefix}
			}
			cur = next
		}
		return cur, nil
	}
	cur := []any{root}
	for _, st := range p.steps {
		var next []any
		for _, v := range cur {
			next = append(next, stepAll(v, st)...)
		}
		cur = next
	}
	if cur == nil {
		cur = []any{}
	}
	return cur, nil
}

func jaywayPath(steps []pathStep) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range steps {
		if s.kind == stepIndex {
			fmt.Fprintf(&b, "[%d]", s.index)
		} else {
			b.WriteString("['" + s.name + "']")
		}
	}
	return b.String()
}

func stepDefinite(v any, st pathStep) (any, bool) {
	switch st.kind {
	case stepField:
		m, ok := v.(*object)
		if !ok {
			return nil, false
		}
		return m.get(st.name)
	case stepIndex:
		a, ok := v.([]any)
		if !ok {
			return nil, false
		}
		i := st.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false
		}
		return a[i], true
	}
	return nil, false
}

func stepAll(v any, st pathStep) []any {
	switch st.kind {
	case stepField, stepIndex:
		if x, ok := stepDefinite(v, st); ok {
			return []any{x}
		}
	case stepWildcard:
		switch t := v.(type) {
		case []any:
			return append([]any(nil), t...)
		case *object:
			return append([]any(nil), t.vals...)
		}
	case stepUnion:
		var out []any
		for _, n := range st.names {
			out = append(out, stepAll(v, pathStep{kind: stepField, name: n})...)
		}
		for _, i := range st.indexes {
			out = append(out, stepAll(v, pathStep{kind: stepIndex, index: i})...)
		}
		return out
	case stepSlice:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		start, end := 0, len(a)
		if st.start != nil {
			start = clampIndex(*st.start, len(a))
		}
		if st.end != nil {
			end = clampIndex(*st.end, len(a))
		}
		if start >= end {
			return nil
		}
		return append([]any(nil), a[start:end]...)
	case stepDeep:
		var out []any
		var walk func(x any)
		walk = func(x any) {
			switch t := x.(type) {
			case *object:
				if st.name == "*" {
					out = append(out, t.vals...)
				} else if y, ok := t.get(st.name); ok {
					out = append(out, y)
				}
				for _, x := range t.vals {
					walk(x)
				}
			case []any:
				for _, y := range t {
					if st.name == "*" {
						out = append(out, y)
					}
					walk(y)
				}
			}
		}
		walk(v)
		return out
	case stepFilter:
		var out []any
		switch t := v.(type) {
		case []any:
			for _, y := range t {
				if st.filter.match(y) {
					out = append(out, y)
				}
			}
		case *object:
			if st.filter.match(t) {
				out = append(out, t)
			}
		}
		return out
	}
	return nil
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	if i < 0 {
		return 0
	}
	if i > n {
		return n
	}
	return i
}

// filterExpr is a small filter language: @-relative paths compared with literals,
// combined with && and ||.
type filterExpr struct {
	or    []*filterExpr
	and   []*filterExpr
	left  *jsonPath // relative to @
	op    string
	right any
}

func parseFilter(s string) (*filterExpr, error) {
	s = strings.TrimSpace(s)
	if parts := splitOp(s, "||"); len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			sub, err := parseFilter(p)
			if err != nil {
				return nil, err
			}
			f.or = append(f.or, sub)
		}
		return f, nil
	}
	if parts := splitOp(s, "&&"); len(parts) > 1 {
		f := &filterExpr{}
		for _, p := range parts {
			sub, err := parseFilter(p)
			if err != nil {
				return nil, err
			}
			f.and = append(f.and, sub)
		}
		return f, nil
	}
	if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") {
		return parseFilter(s[1 : len(s)-1])
	}
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		if i := strings.Index(s, op); i > 0 {
			left, err := compileRelative(strings.TrimSpace(s[:i]))
			if err != nil {
				return nil, err
			}
			lit := strings.TrimSpace(s[i+len(op):])
			var right any
			if strings.HasPrefix(lit, "'") && strings.HasSuffix(lit, "'") && len(lit) >= 2 {
				right = lit[1 : len(lit)-1]
			} else if err := decodeJSON([]byte(lit), &right); err != nil {
				return nil, fmt.Errorf("bad filter literal %q", lit)
			}
			return &filterExpr{left: left, op: op, right: right}, nil
		}
	}
	left, err := compileRelative(s)
	if err != nil {
		return nil, err
	}
	return &filterExpr{left: left, op: "exists"}, nil
}

func splitOp(s, op string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			continue
		}
		switch {
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], op):
			out = append(out, s[start:i])
			start = i + len(op)
			i += len(op) - 1
		}
	}
	return append(out, s[start:])
}

func compileRelative(s string) (*jsonPath, error) {
	if !strings.HasPrefix(s, "@") {
		return nil, fmt.Errorf("filter operand must start with @")
	}
	return compilePath("$" + s[1:])
}

func (f *filterExpr) match(v any) bool {
	switch {
	case f.or != nil:
		for _, s := range f.or {
			if s.match(v) {
				return true
			}
		}
		return false
	case f.and != nil:
		for _, s := range f.and {
			if !s.match(v) {
				return false
			}
		}
		return true
	}
	got, err := f.left.eval(v)
	if err != nil {
		return false
	}
	if f.op == "exists" {
		return true
	}
	if a, ok := toFloat(got); ok {
		b, ok := toFloat(f.right)
		if !ok {
			return f.op == "!="
		}
		return compareOrdered(a < b, a == b, f.op)
	}
	if a, ok := got.(string); ok {
		b, ok := f.right.(string)
		if !ok {
			return f.op == "!="
		}
		return compareOrdered(a < b, a == b, f.op)
	}
	eq := jsonEqual(got, f.right)
	switch f.op {
	case "==":
		return eq
	case "!=":
		return !eq
	}
	return false
}

func compareOrdered(less, equal bool, op string) bool {
	switch op {
	case "==":
		return equal
	case "!=":
		return !equal
	case "<":
		return less
	case "<=":
		return less || equal
	case ">":
		return !less && !equal
	case ">=":
		return !less
	}
	return false
}

// setPath writes value at a ReferencePath (ResultPath) inside root, creating
// intermediate objects; "$" replaces root.
func setPath(root any, p *jsonPath, value any) (any, error) {
	if len(p.steps) == 0 {
		return value, nil
	}
	root = deepCopy(root)
	if root == nil {
		root = newObject(1)
	}
	cur := root
	for i, st := range p.steps {
		last := i == len(p.steps)-1
		switch st.kind {
		case stepField:
			m, ok := cur.(*object)
			if !ok {
				return nil, fmt.Errorf("Unable to apply ResultPath: %s is not an object", jaywayPath(p.steps[:i]))
			}
			if last {
				m.set(st.name, value)
				return root, nil
			}
			next, ok := m.get(st.name)
			if !ok || next == nil {
				next = newObject(1)
				m.set(st.name, next)
			}
			cur = next
		case stepIndex:
			a, ok := cur.([]any)
			idx := st.index
			if ok && idx < 0 {
				idx += len(a)
			}
			if !ok || idx < 0 || idx >= len(a) {
				return nil, fmt.Errorf("Unable to apply ResultPath: index out of range")
			}
			if last {
				a[idx] = value
				return root, nil
			}
			cur = a[idx]
		default:
			return nil, fmt.Errorf("ResultPath must be a reference path")
		}
	}
	return root, nil
}
