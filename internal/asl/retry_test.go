package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingInvoker fails with the scripted errors in order, then succeeds, and
// records the virtual time of every call.
type recordingInvoker struct {
	mu     sync.Mutex
	clock  *VirtualClock
	fails  []string // error names, "" = succeed
	calls  []time.Time
	inputs []string
}

func (r *recordingInvoker) Invoke(_ context.Context, _ string, input json.RawMessage) (json.RawMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.calls)
	r.calls = append(r.calls, r.clock.Now())
	r.inputs = append(r.inputs, string(input))
	if n < len(r.fails) && r.fails[n] != "" {
		return nil, &TaskFailure{Name: r.fails[n], Cause: "boom " + fmt.Sprint(n)}
	}
	return json.RawMessage(`{"ok":true}`), nil
}

func (r *recordingInvoker) delays() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(r.calls); i++ {
		out = append(out, r.calls[i].Sub(r.calls[i-1]))
	}
	return out
}

func taskDefinition(retry, catch string) string {
	if catch == "" {
		catch = "[]"
	}
	return `{"StartAt":"T","States":{
		"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Retry":` + retry + `,"Catch":` + catch + `,"End":true},
		"Handler":{"Type":"Pass","End":true}}}`
}

func runWith(t *testing.T, def string, fails []string, rnd func() float64) (*Execution, *recordingInvoker) {
	t.Helper()
	m, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	clock := NewVirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	inv := &recordingInvoker{clock: clock, fails: fails}
	ex := m.Run(context.Background(), json.RawMessage(`{"in":1}`), RunOptions{Invoker: inv, Clock: clock, Rand: rnd})
	return ex, inv
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name       string
		retry      string
		fails      []string
		wantStatus string
		wantError  string
		wantDelays []time.Duration
		wantCalls  int
	}{
		{
			name:       "BackoffCappedByMaxDelay",
			retry:      `[{"ErrorEquals":["E"],"IntervalSeconds":2,"BackoffRate":2,"MaxDelaySeconds":5,"MaxAttempts":3}]`,
			fails:      []string{"E", "E", "E"},
			wantStatus: StatusSucceeded,
			wantDelays: []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second},
			wantCalls:  4,
		},
		{
			name:       "DefaultsAreOneSecondDoublingThreeAttempts",
			retry:      `[{"ErrorEquals":["States.ALL"]}]`,
			fails:      []string{"E", "E", "E", "E"},
			wantStatus: StatusFailed,
			wantError:  "E",
			wantDelays: []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second},
			wantCalls:  4,
		},
		{
			name:       "MaxAttemptsZeroShieldsLaterRetriers",
			retry:      `[{"ErrorEquals":["E"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}]`,
			fails:      []string{"E", "E"},
			wantStatus: StatusFailed,
			wantError:  "E",
			wantCalls:  1,
		},
		{
			name:       "CountersArePerRetrier",
			retry:      `[{"ErrorEquals":["A"],"MaxAttempts":1,"IntervalSeconds":1,"BackoffRate":1},{"ErrorEquals":["B"],"MaxAttempts":2,"IntervalSeconds":3,"BackoffRate":1}]`,
			fails:      []string{"A", "B", "B", "A"},
			wantStatus: StatusFailed,
			wantError:  "A",
			wantDelays: []time.Duration{1 * time.Second, 3 * time.Second, 3 * time.Second},
			wantCalls:  4,
		},
		{
			name:       "TaskFailedDoesNotMatchTimeout",
			retry:      `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":3}]`,
			fails:      []string{"States.Timeout"},
			wantStatus: StatusFailed,
			wantError:  "States.Timeout",
			wantCalls:  1,
		},
		{
			name:       "TaskFailedMatchesNamedErrors",
			retry:      `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`,
			fails:      []string{"CustomError"},
			wantStatus: StatusSucceeded,
			wantCalls:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, inv := runWith(t, taskDefinition(tt.retry, ""), tt.fails, nil)
			if ex.Status != tt.wantStatus {
				t.Fatalf("status: got %s (%s), want %s", ex.Status, ex.Cause, tt.wantStatus)
			}
			if ex.Error != tt.wantError {
				t.Errorf("error: got %q, want %q", ex.Error, tt.wantError)
			}
			if got := len(inv.calls); got != tt.wantCalls {
				t.Errorf("invocations: got %d, want %d", got, tt.wantCalls)
			}
			if tt.wantDelays != nil && fmt.Sprint(inv.delays()) != fmt.Sprint(tt.wantDelays) {
				t.Errorf("retry delays: got %v, want %v", inv.delays(), tt.wantDelays)
			}
		})
	}
}

func TestRetryJitterFullStaysWithinBackoff(t *testing.T) {
	retry := `[{"ErrorEquals":["E"],"IntervalSeconds":4,"BackoffRate":2,"MaxAttempts":2,"JitterStrategy":"FULL"}]`
	for _, r := range []float64{0, 0.25, 0.999} {
		_, inv := runWith(t, taskDefinition(retry, ""), []string{"E", "E"}, func() float64 { return r })
		computed := []time.Duration{4 * time.Second, 8 * time.Second}
		for i, d := range inv.delays() {
			if d < 0 || d > computed[i] {
				t.Errorf("rand %v, retry %d: got delay %v, want within [0, %v]", r, i, d, computed[i])
			}
			if want := time.Duration(float64(computed[i]) * r); d != want {
				t.Errorf("rand %v, retry %d: got delay %v, want %v", r, i, d, want)
			}
		}
	}
}

func TestRetryCountInContext(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f",
		"Parameters":{"n.$":"$$.State.RetryCount"},"Retry":[{"ErrorEquals":["E"],"MaxAttempts":2}],"End":true}}}`
	_, inv := runWith(t, def, []string{"E", "E"}, nil)
	if got, want := strings.Join(inv.inputs, ","), `{"n":0},{"n":1},{"n":2}`; got != want {
		t.Errorf("payloads: got %s, want %s", got, want)
	}
}

func TestCatch(t *testing.T) {
	tests := []struct {
		name       string
		catch      string
		wantStatus string
		wantOutput string
	}{
		{
			name:       "DefaultResultPathReplacesInput",
			catch:      `[{"ErrorEquals":["E"],"Next":"Handler"}]`,
			wantStatus: StatusSucceeded,
			wantOutput: `{"Error":"E","Cause":"boom 0"}`,
		},
		{
			name:       "ResultPathInjectsErrorIntoInput",
			catch:      `[{"ErrorEquals":["E"],"ResultPath":"$.err","Next":"Handler"}]`,
			wantStatus: StatusSucceeded,
			wantOutput: `{"in":1,"err":{"Error":"E","Cause":"boom 0"}}`,
		},
		{
			name:       "ResultPathNullKeepsInput",
			catch:      `[{"ErrorEquals":["E"],"ResultPath":null,"Next":"Handler"}]`,
			wantStatus: StatusSucceeded,
			wantOutput: `{"in":1}`,
		},
		{
			name:       "FirstMatchingCatcherWins",
			catch:      `[{"ErrorEquals":["Other"],"ResultPath":"$.other","Next":"Handler"},{"ErrorEquals":["States.TaskFailed"],"ResultPath":"$.tf","Next":"Handler"},{"ErrorEquals":["States.ALL"],"ResultPath":"$.all","Next":"Handler"}]`,
			wantStatus: StatusSucceeded,
			wantOutput: `{"in":1,"tf":{"Error":"E","Cause":"boom 0"}}`,
		},
		{
			name:       "NoMatchFailsExecution",
			catch:      `[{"ErrorEquals":["Other"],"Next":"Handler"}]`,
			wantStatus: StatusFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, _ := runWith(t, taskDefinition("[]", tt.catch), []string{"E"}, nil)
			if ex.Status != tt.wantStatus {
				t.Fatalf("status: got %s, want %s", ex.Status, tt.wantStatus)
			}
			if tt.wantOutput != "" && string(ex.Output) != tt.wantOutput {
				t.Errorf("output: got %s, want %s", ex.Output, tt.wantOutput)
			}
		})
	}
}

func TestRuntimeErrorIsNotCaught(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f",
		"OutputPath":"$.no.such","Catch":[{"ErrorEquals":["States.ALL"],"Next":"H"}],"End":true},"H":{"Type":"Pass","End":true}}}`
	ex, _ := runWith(t, def, nil, nil)
	if ex.Status != StatusFailed || ex.Error != "States.Runtime" {
		t.Fatalf("got %s %s, want FAILED States.Runtime", ex.Status, ex.Error)
	}
	if want := "An error occurred while executing the state 'T' (entered at the event id #2). Invalid path '$.no.such' : Missing property in path $['no']"; ex.Cause != want {
		t.Errorf("cause: got %q, want %q", ex.Cause, want)
	}
}

func TestTimeouts(t *testing.T) {
	slow := InvokerFunc(func(ctx context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
		return nil, nil
	})
	_ = slow
	tests := []struct {
		name       string
		def        string
		wantStatus string
		wantError  string
	}{
		{"TaskTimeoutIsStatesTimeout", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","TimeoutSeconds":5,"End":true}}}`, StatusFailed, "States.Timeout"},
		{"ExecutionTimeoutIsTimedOut", `{"TimeoutSeconds":5,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}`, StatusTimedOut, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.def))
			if err != nil {
				t.Fatal(err)
			}
			clock := NewVirtualClock(time.Unix(0, 0))
			sleeper := InvokerFunc(func(ctx context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
				if err := clock.Sleep(ctx, time.Minute); err != nil {
					return nil, err
				}
				return in, nil
			})
			ex := m.Run(context.Background(), json.RawMessage(`{}`), RunOptions{Invoker: sleeper, Clock: clock})
			if ex.Status != tt.wantStatus || ex.Error != tt.wantError {
				t.Errorf("got %s %q, want %s %q", ex.Status, ex.Error, tt.wantStatus, tt.wantError)
			}
			if got, want := clock.Now(), time.Unix(5, 0); !got.Equal(want) {
				t.Errorf("clock: got %v, want %v (stopped at the deadline)", got, want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, def, wantMsg string }{
		{"ErrBackoffRateBelowOne", taskDefinition(`[{"ErrorEquals":["E"],"BackoffRate":0.5}]`, ""), "BackoffRate"},
		{"ErrJitterStrategy", taskDefinition(`[{"ErrorEquals":["E"],"JitterStrategy":"SOME"}]`, ""), "JitterStrategy"},
		{"ErrStatesAllNotLast", taskDefinition(`[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["E"]}]`, ""), "States.ALL"},
		{"ErrMissingNext", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`, "B"},
		{"ErrBadTimestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"2016-12-05 21:29:29Z","End":true}}}`, "String does not match RFC3339 timestamp at /States/W/Timestamp"},
		{"ErrBadPayloadPath", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"nope"},"End":true}}}`, "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.def))
			de, ok := err.(*DefinitionError)
			if !ok {
				t.Fatalf("got %v, want *DefinitionError", err)
			}
			if !strings.Contains(de.Message, tt.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", de.Message, tt.wantMsg)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	got, err := Substitute([]byte(`{"Resource":"${Fn}"}`), map[string]string{"Fn": "arn:x"})
	if err != nil || string(got) != `{"Resource":"arn:x"}` {
		t.Errorf("got %s, %v; want {\"Resource\":\"arn:x\"}", got, err)
	}
	if _, err := Substitute([]byte(`${Missing}`), nil); err == nil {
		t.Errorf("unknown substitution: got nil error, want an error")
	}
}

func TestEventJSONShape(t *testing.T) {
	m, err := Parse([]byte(`{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ex := m.Run(context.Background(), json.RawMessage(`{"a":1}`), RunOptions{Name: "n", Clock: NewVirtualClock(time.Unix(0, 0))})
	b, _ := json.Marshal(ex.Events[1])
	want := `{"id":2,"previousEventId":0,"stateEnteredEventDetails":{"input":"{\"a\":1}","inputDetails":{"truncated":false},"name":"P"},"timestamp":"1970-01-01T00:00:00Z","type":"PassStateEntered"}`
	if string(b) != want {
		t.Errorf("event JSON: got %s, want %s", b, want)
	}
	if got, want := ex.ExecutionArn, "arn:aws:states:local:000000000000:execution:local:n"; got != want {
		t.Errorf("execution ARN: got %s, want %s", got, want)
	}
}
