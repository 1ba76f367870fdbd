package asl

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEventMarshalMatchesMap: the hand-written encoder gives exactly what encoding a map did
// (members in name order), for every place the details key can sort.
func TestEventMarshalMatchesMap(t *testing.T) {
	for _, typ := range []string{"ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "PassStateExited", "MapIterationStarted", "WaitStateEntered", "ChoiceStateExited"} {
		for _, d := range []any{nil, map[string]any{"name": "x", "input": "{\"a\":1}<>&"}} {
			e := Event{ID: 12, PreviousEventID: 11, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Type: typ, Details: d}
			got, _ := json.Marshal(e)
			m := map[string]any{"id": e.ID, "previousEventId": e.PreviousEventID, "timestamp": e.Timestamp.UTC().Format(time.RFC3339Nano), "type": e.Type}
			if d != nil {
				m[e.DetailsKey()] = d
			}
			want, _ := json.Marshal(m)
			if string(got) != string(want) {
				t.Errorf("%s\n got %s\nwant %s", typ, got, want)
			}
		}
	}
}
