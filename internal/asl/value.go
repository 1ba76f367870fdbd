package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// Values are JSON documents: nil, bool, string, json.Number (so that large
// integers and the input's spelling survive a round trip), []any and *object
// (members in insertion order).

// decodeJSON parses one JSON document (surrounding whitespace allowed).
func decodeJSON(data []byte, v *any) error {
	d := jsonDecoder{s: data}
	d.space()
	x, ok := d.value()
	if ok {
		d.space()
		if d.i != len(d.s) {
			return fmt.Errorf("invalid JSON: trailing data")
		}
		*v = x
		return nil
	}
	// Let encoding/json word the syntax error.
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	return fmt.Errorf("invalid JSON")
}

type jsonDecoder struct {
	s []byte
	i int
}

func (d *jsonDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value() (any, bool) {
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '{':
		d.i++
		o := newObject(4)
		d.space()
		if d.i < len(d.s) && d.s[d.i] == '}' {
			d.i++
			return o, true
		}
		for {
			d.space()
			if d.i >= len(d.s) || d.s[d.i] != '"' {
				return nil, false
			}
			k, ok := d.str()
			if !ok {
				return nil, false
			}
			d.space()
			if d.i >= len(d.s) || d.s[d.i] != ':' {
				return nil, false
			}
			d.i++
			d.space()
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			o.set(k, v)
			d.space()
			if d.i >= len(d.s) {
				return nil, false
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == '}' {
				d.i++
				return o, true
			}
			return nil, false
		}
	case c == '[':
		d.i++
		a := []any{}
		d.space()
		if d.i < len(d.s) && d.s[d.i] == ']' {
			d.i++
			return a, true
		}
		for {
			d.space()
			v, ok := d.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			d.space()
			if d.i >= len(d.s) {
				return nil, false
			}
			if d.s[d.i] == ',' {
				d.i++
				continue
			}
			if d.s[d.i] == ']' {
				d.i++
				return a, true
			}
			return nil, false
		}
	case c == '"':
		s, ok := d.str()
		return s, ok
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, false
}

func (d *jsonDecoder) lit(w string) bool {
	if len(d.s)-d.i >= len(w) && string(d.s[d.i:d.i+len(w)]) == w {
		d.i += len(w)
		return true
	}
	return false
}

func (d *jsonDecoder) number() (any, bool) {
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.s[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.s) && d.s[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return nil, false
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	return json.Number(d.s[start:d.i]), true
}

// str reads a string token; escapes and non-ASCII text go through encoding/json
// so that invalid UTF-8 and surrogates are handled exactly as before.
func (d *jsonDecoder) str() (string, bool) {
	start := d.i
	d.i++
	simple := true
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			if simple {
				return string(d.s[start+1 : d.i-1]), true
			}
			var s string
			if json.Unmarshal(d.s[start:d.i], &s) != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			simple = false
			d.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= 0x80:
			simple = false
		}
		d.i++
	}
	return "", false
}

func parseValue(data []byte) (any, error) {
	var v any
	if len(bytes.TrimSpace(data)) == 0 {
		return newObject(0), nil
	}
	err := decodeJSON(data, &v)
	return v, err
}

// encodeJSON renders compact JSON without HTML escaping, as AWS does; object
// members keep their order.
func encodeJSON(v any) []byte {
	b, ok := appendJSON(make([]byte, 0, 128), v)
	if !ok {
		return []byte("null")
	}
	return b
}

func encodeString(v any) string { return string(encodeJSON(v)) }

func appendJSON(b []byte, v any) ([]byte, bool) {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, t), true
	case string:
		return appendJSONString(b, t), true
	case json.Number:
		if t == "" {
			return append(b, '0'), true
		}
		return append(b, t...), true
	case *object:
		b = append(b, '{')
		for i, k := range t.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendJSON(b, t.vals[i]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case []any:
		b = append(b, '[')
		for i, x := range t {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendJSON(b, x); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		return appendJSON(b, objectFromMap(t, func(x any) any { return x }))
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return b, false
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does with HTML escaping off.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case *object:
		o := &object{keys: append([]string(nil), t.keys...), vals: make([]any, len(t.vals)), idx: nil}
		for i, x := range t.vals {
			o.vals[i] = deepCopy(x)
		}
		if t.idx != nil {
			o.idx = make(map[string]int, len(t.idx))
			for k, i := range t.idx {
				o.idx[k] = i
			}
		}
		return o
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = deepCopy(x)
		}
		return a
	}
	return v
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil || !math.IsNaN(f)
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, int, int64:
		return true
	}
	return false
}

// asInteger reports whether v is a number with an integral value.
func asInteger(v any) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true
		}
		f, err := t.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return 0, false
		}
		return int64(f), true
	case int:
		return int64(t), true
	case int64:
		return t, true
	case float64:
		if t != math.Trunc(t) {
			return 0, false
		}
		return int64(t), true
	}
	return 0, false
}

func numberOf(f float64) json.Number {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return json.Number(strconv.FormatInt(int64(f), 10))
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

func intNumber(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// jsonEqual is deep equality with numbers compared by value.
func jsonEqual(a, b any) bool {
	if isNumber(a) && isNumber(b) {
		return numCompare(a, b) == 0
	}
	switch x := a.(type) {
	case *object:
		y, ok := b.(*object)
		if !ok || x.len() != y.len() {
			return false
		}
		for i, k := range x.keys {
			w, ok := y.get(k)
			if !ok || !jsonEqual(x.vals[i], w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// numCompare compares two numbers exactly (big.Float handles long integers).
func numCompare(a, b any) int {
	fa, fb := bigOf(a), bigOf(b)
	if fa == nil || fb == nil {
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return fa.Cmp(fb)
}

func bigOf(v any) *big.Float {
	switch t := v.(type) {
	case json.Number:
		f, _, err := big.ParseFloat(string(t), 10, 200, big.ToNearestEven)
		if err != nil {
			return nil
		}
		return f
	}
	f, ok := toFloat(v)
	if !ok {
		return nil
	}
	return big.NewFloat(f)
}

// jsonTypeName names a value's JSON type the way AWS messages do.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case *object:
		return "object"
	case []any:
		return "array"
	}
	if isNumber(v) {
		return "number"
	}
	return "unknown"
}
