package asl

import "sync"

// varScope holds the state machine variables of one scope: the execution, a
// Parallel branch or a Map iteration. Inner scopes read outer variables;
// assignments always land in the innermost scope.
type varScope struct {
	mu     sync.RWMutex
	parent *varScope
	vars   map[string]any
}

func newVarScope(parent *varScope) *varScope {
	return &varScope{parent: parent, vars: map[string]any{}}
}

func (s *varScope) get(name string) (any, bool) {
	for sc := s; sc != nil; sc = sc.parent {
		sc.mu.RLock()
		v, ok := sc.vars[name]
		sc.mu.RUnlock()
		if ok {
			return v, true
		}
	}
	return nil, false
}

// all flattens the visible variables, inner scopes shadowing outer ones.
func (s *varScope) all() map[string]any {
	var chain []*varScope
	for sc := s; sc != nil; sc = sc.parent {
		chain = append(chain, sc)
	}
	out := map[string]any{}
	for i := len(chain) - 1; i >= 0; i-- {
		chain[i].mu.RLock()
		for k, v := range chain[i].vars {
			out[k] = v
		}
		chain[i].mu.RUnlock()
	}
	return out
}

// assign commits a state's Assign block (already evaluated against the
// state-entry values).
func (s *varScope) assign(vals map[string]any) {
	if s == nil || vals == nil {
		return
	}
	s.mu.Lock()
	for k, v := range vals {
		s.vars[k] = v
	}
	s.mu.Unlock()
}

// assignedDetails renders the assignedVariables of a StateExited event: each
// value as JSON text.
func assignedDetails(vals map[string]any) map[string]any {
	out := make(map[string]any, len(vals))
	for k, v := range vals {
		out[k] = encodeString(v)
	}
	return out
}
