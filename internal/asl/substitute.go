package asl

import (
	"fmt"
	"regexp"
)

var substitutionRe = regexp.MustCompile(`\$\{([^}]*)\}`)

// Substitute replaces every ${Name} as SAM DefinitionSubstitutions does; an
// unknown ${Name} is an error.
func Substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing error
	out := substitutionRe.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			if missing == nil {
				missing = fmt.Errorf("asl: no value for definition substitution ${%s}", name)
			}
			return m
		}
		return []byte(v)
	})
	if missing != nil {
		return nil, missing
	}
	return out, nil
}
