// Package jsonstrict decodes a JSON request body strictly, in one place for every route of
// the API (embedded and in the Lambdas): one JSON object, valid UTF-8, no duplicate member
// names at any depth, no member the Go type does not declare (names match exactly, not
// case-insensitively), no trailing data, bounded nesting and bounded numbers. A refusal is an
// *Error naming the member at fault by its JSON path, with a message safe to show a client.
//
// It is built on github.com/go-json-experiment/json, the upstream of Go's encoding/json/v2
// (still behind GOEXPERIMENT=jsonv2 in Go 1.26), rather than on encoding/json: v1 lets the
// last of duplicate names win, replaces invalid UTF-8 with U+FFFD without a word and matches
// names case-insensitively, and a token pre-pass cannot see the invalid UTF-8 it replaced.
// jsontext refuses all three itself and reports where, as a JSON Pointer. When v2 leaves the
// experiment the import paths change and nothing else.
package jsonstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Limits bound what a body may hold besides its size (which the caller bounds while reading).
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays; the top-level object is depth 1.
	MaxDepth int
	// MaxNumber is the longest number literal, in bytes.
	MaxNumber int
}

// DefaultLimits fit every request body of the API (objects two deep, no numbers) with room to
// spare, and refuse the pathological ones (10,000 nested arrays, a 60 KiB number).
var DefaultLimits = Limits{MaxDepth: 8, MaxNumber: 32}

// Error is a refused body. Field is the JSON path of the member at fault ("reporter.email"),
// or "" when the fault is the body as a whole.
type Error struct {
	Field   string
	Message string
	Err     error // what the parser said, for the log
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "jsonstrict: " + e.Message
	}
	return "jsonstrict: " + e.Field + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Decode decodes data, which must hold exactly one JSON object, into v with DefaultLimits.
func Decode(data []byte, v any) error { return DefaultLimits.Decode(data, v) }

// Decode decodes data, which must hold exactly one JSON object, into v.
func (l Limits) Decode(data []byte, v any) error {
	if err := l.check(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		return semantic(err)
	}
	return nil
}

// check makes one pass over the tokens: syntax, UTF-8, duplicate names (jsontext's defaults),
// one top-level object, depth, number size, nothing after the object.
func (l Limits) check(data []byte) error {
	if !utf8.Valid(data) {
		// Reported before parsing so the message is about the encoding, not a syntax error
		// at some byte; the parser would refuse it too.
		return &Error{Message: "The request body must be valid UTF-8."}
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	if dec.PeekKind() != '{' {
		if _, err := dec.ReadToken(); err != nil && err != io.EOF {
			return syntactic(err)
		}
		return &Error{Message: "The request body must be a JSON object."}
	}
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return syntactic(err)
		}
		switch tok.Kind() {
		case '{', '[':
			if dec.StackDepth() > l.MaxDepth {
				return &Error{Field: path(dec.StackPointer()), Message: fmt.Sprintf("The request body nests deeper than %d levels.", l.MaxDepth)}
			}
		case '0':
			raw := tok.String()
			if len(raw) > l.MaxNumber {
				return &Error{Field: path(dec.StackPointer()), Message: fmt.Sprintf("Numbers must be at most %d characters long.", l.MaxNumber)}
			}
			if f, err := strconv.ParseFloat(raw, 64); err != nil || math.IsInf(f, 0) {
				return &Error{Field: path(dec.StackPointer()), Message: "The number is out of range."}
			}
		}
		if dec.StackDepth() == 0 {
			break
		}
	}
	switch _, err := dec.ReadToken(); {
	case err == io.EOF:
		return nil
	case err != nil && !isSyntax(err):
		return &Error{Message: "The request body could not be read.", Err: err}
	default:
		return &Error{Message: "The request body must hold exactly one JSON object, with nothing after it.", Err: err}
	}
}

func isSyntax(err error) bool {
	var se *jsontext.SyntacticError
	return errors.As(err, &se)
}

// syntactic describes a jsontext error.
func syntactic(err error) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return &Error{Message: "The request body is not valid JSON: it ends too early.", Err: err}
		}
		return &Error{Message: "The request body is not valid JSON.", Err: err}
	}
	field := path(se.JSONPointer)
	if errors.Is(se.Err, jsontext.ErrDuplicateName) {
		// The pointer names the repeated member itself.
		return &Error{Field: field, Message: "This member appears more than once; send each member once.", Err: err}
	}
	if errors.Is(se.Err, io.ErrUnexpectedEOF) {
		return &Error{Field: field, Message: "The request body is not valid JSON: it ends too early.", Err: err}
	}
	return &Error{Field: field, Message: "The request body is not valid JSON.", Err: err}
}

// semantic describes a json.Unmarshal error: a member v does not declare, or of the wrong type.
func semantic(err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			return syntactic(err)
		}
		return &Error{Message: "The request body is not valid JSON.", Err: err}
	}
	field := path(se.JSONPointer)
	if errors.Is(se.Err, json.ErrUnknownName) {
		return &Error{Field: field, Message: "Unknown field.", Err: err}
	}
	if se.GoType != nil {
		return &Error{Field: field, Message: "Must be " + typeName(se.GoType) + ".", Err: err}
	}
	return &Error{Field: field, Message: "This value is not valid here.", Err: err}
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a different type"
}

// path turns a JSON Pointer ("/reporter/email") into the dotted path FieldError uses
// ("reporter.email"); array indexes stay numbers ("tags.0").
func path(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}
