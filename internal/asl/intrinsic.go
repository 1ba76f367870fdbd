package asl

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// intrinsicCall is a parsed States.X(...) call.
type intrinsicCall struct {
	name string
	args []intrinsicArg
}

type intrinsicArg struct {
	literal any
	path    *jsonPath
	call    *intrinsicCall
}

var intrinsicArity = map[string][2]int{ // min, max (-1 = unbounded)
	"States.Format": {1, -1}, "States.StringToJson": {1, 1}, "States.JsonToString": {1, 1},
	"States.Array": {0, -1}, "States.ArrayPartition": {2, 2}, "States.ArrayContains": {2, 2},
	"States.ArrayRange": {3, 3}, "States.ArrayGetItem": {2, 2}, "States.ArrayLength": {1, 1},
	"States.ArrayUnique": {1, 1}, "States.Base64Encode": {1, 1}, "States.Base64Decode": {1, 1},
	"States.Hash": {2, 2}, "States.JsonMerge": {3, 3}, "States.MathRandom": {2, 3},
	"States.MathAdd": {2, 2}, "States.StringSplit": {2, 2}, "States.UUID": {0, 0},
}

func isIntrinsic(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "States.") && strings.HasSuffix(s, ")") && strings.Contains(s, "(")
}

func parseIntrinsic(s string) (*intrinsicCall, error) {
	p := &intrinsicParser{s: strings.TrimSpace(s)}
	c, err := p.call()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected trailing text in %q", s)
	}
	return c, nil
}

type intrinsicParser struct {
	s string
	i int
}

func (p *intrinsicParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *intrinsicParser) call() (*intrinsicCall, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("expected (")
	}
	name := strings.TrimSpace(p.s[start:p.i])
	arity, ok := intrinsicArity[name]
	if !ok {
		return nil, fmt.Errorf("unknown intrinsic function %q", name)
	}
	p.i++ // (
	c := &intrinsicCall{name: name}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			p.skipSpace()
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.skipSpace()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("unterminated call")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			return nil, fmt.Errorf("unexpected %q", p.s[p.i])
		}
	}
	if len(c.args) < arity[0] || (arity[1] >= 0 && len(c.args) > arity[1]) {
		return nil, fmt.Errorf("wrong number of arguments for %s", name)
	}
	return c, nil
}

func (p *intrinsicParser) arg() (intrinsicArg, error) {
	if p.i >= len(p.s) {
		return intrinsicArg{}, fmt.Errorf("unterminated call")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		p.i++
		var b strings.Builder
		for {
			if p.i >= len(p.s) {
				return intrinsicArg{}, fmt.Errorf("unterminated string")
			}
			ch := p.s[p.i]
			if ch == '\\' {
				if p.i+1 >= len(p.s) {
					return intrinsicArg{}, fmt.Errorf("bad escape")
				}
				n := p.s[p.i+1]
				if n != '\'' && n != '{' && n != '}' && n != '\\' {
					return intrinsicArg{}, fmt.Errorf("illegal escape \\%c", n)
				}
				// Keep \{ \} escaped for Format; unescape the rest.
				if n == '{' || n == '}' {
					b.WriteByte('\\')
				}
				b.WriteByte(n)
				p.i += 2
				continue
			}
			if ch == '\'' {
				p.i++
				return intrinsicArg{literal: b.String()}, nil
			}
			b.WriteByte(ch)
			p.i++
		}
	case c == '$':
		start := p.i
		depth := 0
		var quote byte
		for p.i < len(p.s) {
			ch := p.s[p.i]
			if quote != 0 {
				if ch == quote {
					quote = 0
				}
			} else if ch == '\'' && depth > 0 {
				quote = ch
			} else if ch == '[' || ch == '(' {
				depth++
			} else if ch == ']' || (ch == ')' && depth > 0) {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')' || ch == ' ') {
				break
			}
			p.i++
		}
		path, err := compilePath(p.s[start:p.i])
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{path: path}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		call, err := p.call()
		if err != nil {
			return intrinsicArg{}, err
		}
		return intrinsicArg{call: call}, nil
	default:
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' && p.s[p.i] != ' ' {
			p.i++
		}
		tok := p.s[start:p.i]
		var v any
		if err := decodeJSON([]byte(tok), &v); err != nil {
			return intrinsicArg{}, fmt.Errorf("bad literal %q", tok)
		}
		if _, isStr := v.(string); isStr || v == nil && tok != "null" {
			return intrinsicArg{}, fmt.Errorf("bad literal %q", tok)
		}
		if _, isObj := v.(*object); isObj {
			return intrinsicArg{}, fmt.Errorf("bad literal %q", tok)
		}
		if _, isArr := v.([]any); isArr {
			return intrinsicArg{}, fmt.Errorf("bad literal %q", tok)
		}
		return intrinsicArg{literal: v}, nil
	}
}

// intrinsicError becomes States.Runtime with the message as cause detail.
type intrinsicError struct{ msg string }

func (e *intrinsicError) Error() string { return e.msg }

func ierr(format string, a ...any) error { return &intrinsicError{fmt.Sprintf(format, a...)} }

func (c *intrinsicCall) eval(ev *evalEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		switch {
		case a.call != nil:
			v, err := a.call.eval(ev)
			if err != nil {
				return nil, err
			}
			args[i] = v
		case a.path != nil:
			v, err := ev.path(a.path)
			if err != nil {
				return nil, err
			}
			args[i] = v
		default:
			args[i] = a.literal
		}
	}
	return callIntrinsic(c.name, args, ev)
}

func callIntrinsic(name string, args []any, ev *evalEnv) (any, error) {
	switch name {
	case "States.Format":
		tmpl, ok := args[0].(string)
		if !ok {
			return nil, ierr("The first argument of States.Format must be a string")
		}
		var b strings.Builder
		n := 1
		for i := 0; i < len(tmpl); i++ {
			ch := tmpl[i]
			if ch == '\\' && i+1 < len(tmpl) && (tmpl[i+1] == '{' || tmpl[i+1] == '}') {
				b.WriteByte(tmpl[i+1])
				i++
				continue
			}
			if ch == '{' && i+1 < len(tmpl) && tmpl[i+1] == '}' {
				if n >= len(args) {
					return nil, ierr("Number of arguments in States.Format does not match the number of placeholders")
				}
				b.WriteString(formatArg(args[n]))
				n++
				i++
				continue
			}
			b.WriteByte(ch)
		}
		if n != len(args) {
			return nil, ierr("Number of arguments in States.Format does not match the number of placeholders")
		}
		return b.String(), nil
	case "States.StringToJson":
		s, ok := args[0].(string)
		if !ok {
			return nil, ierr("The argument of States.StringToJson must be a string")
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil
		}
		var v any
		if err := decodeJSON([]byte(s), &v); err != nil {
			return nil, ierr("The argument of States.StringToJson is not valid JSON: %s", s)
		}
		return v, nil
	case "States.JsonToString":
		return encodeString(args[0]), nil
	case "States.Array":
		return append([]any{}, args...), nil
	case "States.ArrayPartition":
		arr, ok := args[0].([]any)
		size, ok2 := asInteger(args[1])
		if !ok || !ok2 || size <= 0 {
			return nil, ierr("Invalid arguments in States.ArrayPartition")
		}
		out := []any{}
		for i := 0; i < len(arr); i += int(size) {
			end := min(i+int(size), len(arr))
			out = append(out, append([]any{}, arr[i:end]...))
		}
		return out, nil
	case "States.ArrayContains":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, ierr("The first argument of States.ArrayContains must be an array")
		}
		for _, x := range arr {
			if jsonEqual(x, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		var n [3]int64
		for i := range n {
			v, ok := asInteger(args[i])
			if !ok {
				return nil, ierr("Invalid arguments in States.ArrayRange")
			}
			n[i] = v
		}
		if n[2] == 0 {
			return nil, ierr("The step value of States.ArrayRange cannot be 0")
		}
		out := []any{}
		for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
			out = append(out, intNumber(v))
			if len(out) > 1000 {
				return nil, ierr("States.ArrayRange result exceeds the maximum of 1000 elements")
			}
		}
		return out, nil
	case "States.ArrayGetItem":
		arr, ok := args[0].([]any)
		idx, ok2 := asInteger(args[1])
		if !ok || !ok2 {
			return nil, ierr("Invalid arguments in States.ArrayGetItem")
		}
		if idx < 0 || idx >= int64(len(arr)) {
			return nil, ierr("Index %d out of bounds for array of length %d", idx, len(arr))
		}
		return arr[idx], nil
	case "States.ArrayLength":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, ierr("The argument of States.ArrayLength must be an array")
		}
		return intNumber(int64(len(arr))), nil
	case "States.ArrayUnique":
		arr, ok := args[0].([]any)
		if !ok {
			return nil, ierr("The argument of States.ArrayUnique must be an array")
		}
		out := []any{}
	next:
		for _, x := range arr {
			for _, y := range out {
				if jsonEqual(x, y) {
					continue next
				}
			}
			out = append(out, x)
		}
		return out, nil
	case "States.Base64Encode":
		s, ok := args[0].(string)
		if !ok {
			return nil, ierr("The argument of States.Base64Encode must be a string")
		}
		if len(s) > 10000 {
			return nil, ierr("The input string to States.Base64Encode exceeds 10000 characters")
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, ok := args[0].(string)
		if !ok {
			return nil, ierr("The argument of States.Base64Decode must be a string")
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, ierr("The argument of States.Base64Decode is not valid base64: %s", s)
		}
		return string(b), nil
	case "States.Hash":
		algo, ok := args[1].(string)
		if !ok {
			return nil, ierr("The hash algorithm of States.Hash must be a string")
		}
		var h hash.Hash
		switch algo {
		case "MD5":
			h = md5.New()
		case "SHA-1":
			h = sha1.New()
		case "SHA-256":
			h = sha256.New()
		case "SHA-384":
			h = sha512.New384()
		case "SHA-512":
			h = sha512.New()
		default:
			return nil, ierr("The hash algorithm '%s' is not supported. Supported: MD5, SHA-1, SHA-256, SHA-384, SHA-512", algo)
		}
		data, ok := args[0].(string)
		if !ok {
			data = encodeString(args[0])
		}
		h.Write([]byte(data))
		return hex.EncodeToString(h.Sum(nil)), nil
	case "States.JsonMerge":
		a, ok := args[0].(*object)
		b, ok2 := args[1].(*object)
		deep, ok3 := args[2].(bool)
		if !ok || !ok2 || !ok3 {
			return nil, ierr("Invalid arguments in States.JsonMerge")
		}
		if deep {
			return nil, ierr("States.JsonMerge does not support deep merge")
		}
		merged := deepCopy(a).(*object)
		for i, k := range b.keys {
			merged.set(k, deepCopy(b.vals[i]))
		}
		// AWS merges into a java.util.HashMap: the result lists keys in its order.
		out := newObject(merged.len())
		for _, i := range javaHashMapOrder(merged.keys) {
			out.set(merged.keys[i], merged.vals[i])
		}
		return out, nil
	case "States.MathRandom":
		lo, ok := toFloat(args[0])
		hi, ok2 := toFloat(args[1])
		if !ok || !ok2 {
			return nil, ierr("Invalid arguments in States.MathRandom")
		}
		l, h := int64(javaRound(lo)), int64(javaRound(hi))
		if h <= l {
			return intNumber(l), nil
		}
		return intNumber(l + int64(ev.rand()*float64(h-l))), nil
	case "States.MathAdd":
		a, ok := toFloat(args[0])
		b, ok2 := toFloat(args[1])
		if !ok || !ok2 {
			return nil, ierr("Invalid arguments in States.MathAdd")
		}
		return intNumber(int64(javaRound(a)) + int64(javaRound(b))), nil
	case "States.StringSplit":
		s, ok := args[0].(string)
		d, ok2 := args[1].(string)
		if !ok || !ok2 {
			return nil, ierr("Invalid arguments in States.StringSplit")
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(d, r) })
		out := make([]any, len(parts))
		for i, x := range parts {
			out[i] = x
		}
		return out, nil
	case "States.UUID":
		return uuid.NewString(), nil
	}
	return nil, ierr("unknown intrinsic function %s", name)
}

func javaRound(f float64) float64 { return math.Floor(f + 0.5) }

// formatArg renders a States.Format argument: strings raw, numbers and
// literals as JSON, objects and arrays the way Java's toString does.
func formatArg(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "null"
	case *object:
		parts := make([]string, len(t.keys))
		for i, k := range t.keys {
			parts[i] = k + "=" + formatArg(t.vals[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = formatArg(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	}
	return encodeString(v)
}
