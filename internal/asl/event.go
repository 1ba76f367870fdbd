package asl

import (
	"encoding/json"
	"strings"
	"time"
)

// Event is one Step Functions history event, marshalled in the GetExecutionHistory shape.
type Event struct {
	ID, PreviousEventID int64
	Timestamp           time.Time
	Type                string
	Details             any // marshalled under the details key that belongs to Type
}

// DetailsKey is the JSON key GetExecutionHistory uses for this event type's details.
func (e Event) DetailsKey() string {
	switch {
	case strings.HasSuffix(e.Type, "StateEntered"):
		return "stateEnteredEventDetails"
	case strings.HasSuffix(e.Type, "StateExited"):
		return "stateExitedEventDetails"
	}
	return strings.ToLower(e.Type[:1]) + e.Type[1:] + "EventDetails"
}

// MarshalJSON renders the event as GetExecutionHistory does.
func (e Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":              e.ID,
		"previousEventId": e.PreviousEventID,
		"timestamp":       e.Timestamp.UTC().Format(time.RFC3339Nano),
		"type":            e.Type,
	}
	if e.Details != nil {
		m[e.DetailsKey()] = e.Details
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the GetExecutionHistory shape back (Details becomes map[string]any).
func (e *Event) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	var ts string
	_ = json.Unmarshal(m["id"], &e.ID)
	_ = json.Unmarshal(m["previousEventId"], &e.PreviousEventID)
	_ = json.Unmarshal(m["type"], &e.Type)
	if err := json.Unmarshal(m["timestamp"], &ts); err == nil {
		e.Timestamp, _ = time.Parse(time.RFC3339Nano, ts)
	}
	if e.Type != "" {
		if raw, ok := m[e.DetailsKey()]; ok {
			var d map[string]any
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			e.Details = d
		}
	}
	return nil
}

type payloadDetails struct {
	Truncated bool `json:"truncated"`
}

func stateEnteredDetails(name string, input any) map[string]any {
	return map[string]any{"name": name, "input": encodeString(input), "inputDetails": payloadDetails{}}
}

func stateExitedDetails(name string, output any) map[string]any {
	return map[string]any{"name": name, "output": encodeString(output), "outputDetails": payloadDetails{}}
}

func errorDetails(f *failure, extra map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range extra {
		m[k] = v
	}
	if f.hasError {
		m["error"] = f.Error
	}
	if f.hasCause {
		m["cause"] = f.Cause
	}
	return m
}
