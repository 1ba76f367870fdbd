package asl

import (
	"encoding/json"
	"sort"
)

// object is a JSON object that keeps its members in insertion order, as AWS
// Step Functions does: outputs, JSON texts (States.JsonToString, event
// inputs/outputs) and payload templates all list keys in the order they were
// written. Values inside are the same as elsewhere: nil, bool, string,
// json.Number, []any and *object.
type object struct {
	keys []string
	vals []any
	idx  map[string]int // built once the object grows past smallObject members
}

const smallObject = 12

func newObject(capacity int) *object {
	return &object{keys: make([]string, 0, capacity), vals: make([]any, 0, capacity)}
}

// obj builds an object from alternating keys and values.
func obj(kv ...any) *object {
	o := newObject(len(kv) / 2)
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) len() int { return len(o.keys) }

func (o *object) find(k string) int {
	if o.idx != nil {
		if i, ok := o.idx[k]; ok {
			return i
		}
		return -1
	}
	for i, x := range o.keys {
		if x == k {
			return i
		}
	}
	return -1
}

// get returns the member k.
func (o *object) get(k string) (any, bool) {
	if o == nil {
		return nil, false
	}
	if i := o.find(k); i >= 0 {
		return o.vals[i], true
	}
	return nil, false
}

// val returns the member k, or nil when absent.
func (o *object) val(k string) any {
	v, _ := o.get(k)
	return v
}

func (o *object) has(k string) bool {
	_, ok := o.get(k)
	return ok
}

// set replaces member k in place, or appends it.
func (o *object) set(k string, v any) {
	if i := o.find(k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	if o.idx != nil {
		o.idx[k] = len(o.keys) - 1
	} else if len(o.keys) > smallObject {
		o.idx = make(map[string]int, len(o.keys)*2)
		for i, x := range o.keys {
			o.idx[x] = i
		}
	}
}

// del removes member k, keeping the order of the others.
func (o *object) del(k string) {
	i := o.find(k)
	if i < 0 {
		return
	}
	o.keys = append(o.keys[:i], o.keys[i+1:]...)
	o.vals = append(o.vals[:i], o.vals[i+1:]...)
	if o.idx != nil {
		delete(o.idx, k)
		for j := i; j < len(o.keys); j++ {
			o.idx[o.keys[j]] = j
		}
	}
}

// clone is a shallow copy.
func (o *object) clone() *object {
	c := &object{keys: append([]string(nil), o.keys...), vals: append([]any(nil), o.vals...)}
	if o.idx != nil {
		c.idx = make(map[string]int, len(o.idx))
		for k, v := range o.idx {
			c.idx[k] = v
		}
	}
	return c
}

// MarshalJSON keeps member order when an object meets encoding/json.
func (o *object) MarshalJSON() ([]byte, error) { return encodeJSON(o), nil }

// objectFromMap orders a plain map's members by key (what encoding/json did).
func objectFromMap(m map[string]any, conv func(any) any) *object {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	o := newObject(len(keys))
	for _, k := range keys {
		o.set(k, conv(m[k]))
	}
	return o
}

// plainValue turns objects into map[string]any (for callers outside the
// engine's value model, e.g. event details read back by tests).
func plainValue(v any) any {
	switch t := v.(type) {
	case *object:
		m := make(map[string]any, t.len())
		for i, k := range t.keys {
			m[k] = plainValue(t.vals[i])
		}
		return m
	case []any:
		a := make([]any, len(t))
		for i, x := range t {
			a[i] = plainValue(x)
		}
		return a
	}
	return v
}

var _ json.Marshaler = (*object)(nil)
