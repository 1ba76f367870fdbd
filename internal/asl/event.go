package asl

import (
	"encoding/json"
	"strconv"
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

// MarshalJSON renders the event as GetExecutionHistory does, members in name order (as a
// map would be encoded), without building a map: a history is encoded once per event.
func (e Event) MarshalJSON() ([]byte, error) {
	var details []byte
	key := ""
	if e.Details != nil {
		var err error
		if details, err = json.Marshal(e.Details); err != nil {
			return nil, err
		}
		key = e.DetailsKey()
	}
	b := make([]byte, 0, 96+len(details))
	b = append(b, '{')
	first := true
	member := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
	}
	addDetails := func(before string) {
		if key != "" && key < before {
			member(key)
			b = append(b, details...)
			key = ""
		}
	}
	addDetails("id")
	member("id")
	b = strconv.AppendInt(b, e.ID, 10)
	addDetails("previousEventId")
	member("previousEventId")
	b = strconv.AppendInt(b, e.PreviousEventID, 10)
	addDetails("timestamp")
	member("timestamp")
	b = strconv.AppendQuote(b, e.Timestamp.UTC().Format(time.RFC3339Nano))
	addDetails("type")
	member("type")
	t, err := json.Marshal(e.Type)
	if err != nil {
		return nil, err
	}
	b = append(b, t...)
	addDetails("\uffff")
	return append(b, '}'), nil
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
