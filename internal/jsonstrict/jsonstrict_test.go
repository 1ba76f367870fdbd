package jsonstrict_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/incidentmanager/incidents/internal/jsonstrict"
)

type reporter struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type body struct {
	Title    string   `json:"title"`
	Count    int      `json:"count"`
	Reporter reporter `json:"reporter"`
	Tags     []string `json:"tags"`
	Extra    any      `json:"extra"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		field    string // "" with a non-empty msg: the body as a whole
		msg      string // part of the message; "" = accepted
	}{
		{"OK", `{"title":"x","reporter":{"name":"A","email":"a@b.co"},"count":3}`, "", ""},
		{"OKWhiteSpaceAround", " \n{\"title\":\"x\"}\n\t ", "", ""},
		{"OKEscapedSurrogatePair", `{"title":"\ud83d\ude00"}`, "", ""},
		{"OKNull", `{"title":null,"reporter":null}`, "", ""},
		{"ErrDuplicateTop", `{"title":"a","title":"b"}`, "title", "more than once"},
		{"ErrDuplicateNested", `{"reporter":{"email":"a@b.co","email":"evil@x.io"}}`, "reporter.email", "more than once"},
		{"ErrDuplicateDeep", `{"extra":{"a":[{"b":1,"b":2}]}}`, "extra.a.0.b", "more than once"},
		{"ErrDuplicateByEscape", `{"title":"a","\u0074itle":"b"}`, "title", "more than once"},
		{"ErrInvalidUTF8", "{\"title\":\"a\xffb\"}", "", "UTF-8"},
		{"ErrOverlongUTF8", "{\"title\":\"\xc0\xaf\"}", "", "UTF-8"},
		{"ErrLoneSurrogateEscape", `{"title":"\ud800"}`, "title", "not valid JSON"},
		{"ErrUnknownTop", `{"title":"x","priority":1}`, "priority", "Unknown field"},
		{"ErrUnknownNested", `{"reporter":{"name":"A","phone":"1"}}`, "reporter.phone", "Unknown field"},
		{"ErrCaseMismatch", `{"Title":"x"}`, "Title", "Unknown field"},
		{"ErrWrongType", `{"title":5}`, "title", "a string"},
		{"ErrWrongTypeNested", `{"reporter":{"name":["A"]}}`, "reporter.name", "a string"},
		{"ErrWrongTypeObject", `{"reporter":"Ada"}`, "reporter", "a JSON object"},
		{"ErrFraction", `{"count":1.5}`, "count", "a whole number"},
		{"ErrTrailingObject", `{"title":"x"}{}`, "", "nothing after"},
		{"ErrTrailingGarbage", `{"title":"x"} x`, "", "nothing after"},
		{"ErrTrailingBrace", `{"title":"x"}}`, "", "nothing after"},
		{"ErrNotObjectArray", `[{"title":"x"}]`, "", "JSON object"},
		{"ErrNotObjectString", `"x"`, "", "JSON object"},
		{"ErrEmpty", ``, "", "JSON object"},
		{"ErrTruncated", `{"title":`, "title", "ends too early"},
		{"ErrSingleQuotes", `{'title':'x'}`, "", "not valid JSON"},
		{"ErrComment", `{"title":"x"/*c*/}`, "", "not valid JSON"},
		{"ErrTrailingComma", `{"title":"x",}`, "", "not valid JSON"},
		{"ErrNaN", `{"count":NaN}`, "count", "not valid JSON"},
		{"ErrDeep", `{"extra":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`, "extra.0.0.0.0.0.0.0", "deeper than 8"},
		{"ErrVeryDeep", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), "a.a.a.a.a.a.a.a", "deeper"},
		{"ErrLongNumber", `{"count":` + strings.Repeat("9", 40) + `}`, "count", "at most 32"},
		{"ErrHugeExponent", `{"count":1e999}`, "count", "out of range"},
		{"ErrControlInString", "{\"title\":\"a\nb\"}", "title", "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v body
			err := jsonstrict.Decode([]byte(tc.in), &v)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Decode = %v, want accepted", err)
				}
				return
			}
			var e *jsonstrict.Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode = %v, want a *jsonstrict.Error", err)
			}
			if e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("Decode = field %q message %q, want field %q and a message with %q", e.Field, e.Message, tc.field, tc.msg)
			}
		})
	}
}

func TestDecodeFillsValue(t *testing.T) {
	var v body
	if err := jsonstrict.Decode([]byte(`{"title":"\u00e9","reporter":{"name":"A"},"tags":["a","b"]}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Title != "é" || v.Reporter.Name != "A" || len(v.Tags) != 2 {
		t.Errorf("decoded %+v", v)
	}
}

// FuzzDecode: whatever the bytes, Decode returns nil or an *Error, never panics, and what it
// accepts encoding/json would read the same way (so the strictness only ever refuses).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"title":"x","reporter":{"name":"A","email":"a@b.co"}}`, `{"title":"a","title":"b"}`, "{\"title\":\"\xff\"}", `{"extra":[[[[[[[[[[]]]]]]]]]]}`, `{"count":1e999}`, `{}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v body
		err := jsonstrict.Decode(data, &v)
		if err == nil {
			var v1 body
			if err := json.Unmarshal(data, &v1); err != nil || !reflect.DeepEqual(v, v1) {
				t.Fatalf("Decode(%q) accepted %+v; encoding/json reads %+v, %v", data, v, v1, err)
			}
			return
		}
		var e *jsonstrict.Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("Decode(%q) = %v, want an *Error with a message", data, err)
		}
	})
}
