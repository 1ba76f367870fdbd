package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
)

// Values are JSON documents decoded into any, with numbers kept as json.Number
// so that large integers and the input's spelling survive a round trip.

func decodeJSON(data []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("invalid JSON: trailing data")
	}
	var extra any
	if err := d.Decode(&extra); err == nil {
		return fmt.Errorf("invalid JSON: trailing data")
	}
	return nil
}

func parseValue(data []byte) (any, error) {
	var v any
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	err := decodeJSON(data, &v)
	return v, err
}

// encodeJSON renders compact JSON without HTML escaping, as AWS does.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func encodeString(v any) string { return string(encodeJSON(v)) }

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = deepCopy(x)
		}
		return a
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
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
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if isNumber(v) {
		return "number"
	}
	return "unknown"
}
