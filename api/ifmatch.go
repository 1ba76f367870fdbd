package api

import (
	"strconv"
	"strings"
)

// precondition is a parsed If-Match field (RFC 9110 §13.1.1): absent, "*", or a list of
// entity tags.
type precondition struct {
	any  bool
	tags []entityTag
}

type entityTag struct {
	weak   bool
	opaque string // between the quotes
}

// parseIfMatch parses every If-Match line of a request as one list. It reports false for a
// value that is not "*" or a list of entity tags: `"4` (unterminated), `4` (unquoted),
// `"a"b`, `*, "1"`.
func parseIfMatch(lines []string) (*precondition, bool) {
	if len(lines) == 0 {
		return nil, true
	}
	v := strings.Trim(strings.Join(lines, ","), " \t")
	if v == "*" {
		return &precondition{any: true}, true
	}
	p := &precondition{}
	for i := 0; ; {
		// #entity-tag: elements separated by commas with optional white space; empty
		// elements are allowed and ignored (RFC 9110 §5.6.1).
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		if i == len(v) {
			break
		}
		var t entityTag
		if strings.HasPrefix(v[i:], "W/") {
			t.weak = true
			i += 2
		}
		if i == len(v) || v[i] != '"' {
			return nil, false
		}
		end := strings.IndexByte(v[i+1:], '"')
		if end < 0 {
			return nil, false
		}
		t.opaque = v[i+1 : i+1+end]
		for _, c := range []byte(t.opaque) {
			// etagc = %x21 / %x23-7E / obs-text
			if c < 0x21 || c == 0x7f {
				return nil, false
			}
		}
		p.tags = append(p.tags, t)
		i += end + 2
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i < len(v) && v[i] != ',' {
			return nil, false
		}
	}
	if len(p.tags) == 0 {
		return nil, false
	}
	return p, true
}

// matches reports whether the precondition holds for a ticket at version. If-Match compares
// strongly: a weak tag never matches, and a tag matches only its exact text, so "0005" is
// not version 5.
func (p *precondition) matches(version int) bool {
	if p == nil || p.any {
		return true
	}
	want := strconv.Itoa(version)
	for _, t := range p.tags {
		if !t.weak && t.opaque == want {
			return true
		}
	}
	return false
}
