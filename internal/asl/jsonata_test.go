package asl

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// runDef runs def on input with a virtual clock; fails names the scripted Task errors.
func runDef(t *testing.T, def, input string, fails []string) *Execution {
	t.Helper()
	m, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	clock := NewVirtualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	inv := &recordingInvoker{clock: clock, fails: fails}
	return m.Run(context.Background(), json.RawMessage(input), RunOptions{Invoker: inv, Clock: clock, Rand: func() float64 { return 0.5 }})
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := decodeJSON(got, &g); err != nil {
		return false
	}
	if err := decodeJSON([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	return jsonEqual(g, w)
}

func TestJSONataAndVariables(t *testing.T) {
	tests := []struct {
		name, def, input string
		fails            []string
		wantOutput       string // when SUCCEEDED
		wantError        string // when FAILED
		wantCause        string // substring of the cause
	}{
		{
			name:       "output_expression_reads_states_input",
			def:        `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"sum":"{% $states.input.a + $states.input.b %}","lit":" {% not an expression %} "},"End":true}}}`,
			input:      `{"a":1,"b":2}`,
			wantOutput: `{"sum":3,"lit":" {% not an expression %} "}`,
		},
		{
			name: "assign_sees_state_entry_values",
			def: `{"QueryLanguage":"JSONata","StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"x":1,"y":2},"Next":"B"},
				"B":{"Type":"Pass","Assign":{"x":"{% $y %}","y":"{% $x %}"},"Output":"{% [$x,$y] %}","Next":"C"},
				"C":{"Type":"Pass","Output":"{% [$x,$y] %}","End":true}}}`,
			input:      `{}`,
			wantOutput: `[2,1]`,
		},
		{
			name: "jsonpath_variable_reference_in_parameters",
			def: `{"StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"who.$":"$.name","n":3},"Next":"B"},
				"B":{"Type":"Pass","Parameters":{"hello.$":"$who","twice.$":"States.MathAdd($n, $n)"},"End":true}}}`,
			input:      `{"name":"ann"}`,
			wantOutput: `{"hello":"ann","twice":6}`,
		},
		{
			name:      "undefined_output_is_query_evaluation_error",
			def:       `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"r":"{% $nope %}"},"End":true}}}`,
			input:     `{}`,
			wantError: "States.QueryEvaluationError",
			wantCause: "The JSONata expression '$nope' specified for the field 'Output/r' returned nothing (undefined).",
		},
		{
			name: "choice_rule_assign_replaces_state_assign",
			def: `{"QueryLanguage":"JSONata","StartAt":"C","States":{
				"C":{"Type":"Choice","Assign":{"v":"default"},"Default":"D",
					"Choices":[{"Condition":"{% $states.input.go %}","Assign":{"v":"rule"},"Next":"D"}]},
				"D":{"Type":"Pass","Output":"{% $v %}","End":true}}}`,
			input:      `{"go":true}`,
			wantOutput: `"rule"`,
		},
		{
			name: "catcher_output_gets_error_output_and_input",
			def: `{"QueryLanguage":"JSONata","StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f",
					"Catch":[{"ErrorEquals":["States.ALL"],"Output":{"in":"{% $states.input %}","err":"{% $states.errorOutput.Error %}"},"Assign":{"caught":true},"Next":"H"}],"End":true},
				"H":{"Type":"Pass","Output":"{% $merge([$states.input, {'caught': $caught}]) %}","End":true}}}`,
			input:      `{"k":1}`,
			fails:      []string{"Boom"},
			wantOutput: `{"in":{"k":1},"err":"Boom","caught":true}`,
		},
		{
			name: "task_output_and_assign_see_result",
			def: `{"QueryLanguage":"JSONata","StartAt":"T","States":{
				"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","Arguments":{"x":"{% $states.input.x %}"},
					"Assign":{"r":"{% $states.result.ok %}"},"Output":"{% $states.result %}","Next":"P"},
				"P":{"Type":"Pass","Output":"{% $r %}","End":true}}}`,
			input:      `{"x":1}`,
			wantOutput: `true`,
		},
		{
			name:       "aws_functions_are_registered",
			def:        `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":{"p":"{% $partition([1,2,3],2) %}","r":"{% $range(0,4,2) %}","h":"{% $hash('a','SHA-256') %}","j":"{% $parse('{\"a\":[1]}') %}","u":"{% $length($uuid()) %}"},"End":true}}}`,
			input:      `{}`,
			wantOutput: `{"p":[[1,2],[3]],"r":[0,2,4],"h":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb","j":{"a":[1]},"u":36}`,
		},
		{
			name:      "map_items_not_array_is_query_evaluation_error",
			def:       `{"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","Items":"{% 'str' %}","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}`,
			input:     `{}`,
			wantError: "States.QueryEvaluationError",
			wantCause: "Expected 'array', but was 'string' for value: \"str\"",
		},
		{
			name: "map_iteration_variables_stay_in_the_iteration",
			def: `{"QueryLanguage":"JSONata","StartAt":"A","States":{
				"A":{"Type":"Pass","Assign":{"outer":10},"Next":"M"},
				"M":{"Type":"Map","Items":"{% [1,2] %}","ItemSelector":"{% $states.context.Map.Item.Value + $outer %}",
					"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","Assign":{"inner":1},"End":true}}},"Next":"B"},
				"B":{"Type":"Pass","Output":{"items":"{% $states.input %}","inner":"{% $exists($inner) %}"},"End":true}}}`,
			input:      `{}`,
			wantOutput: `{"items":[11,12],"inner":false}`,
		},
		{
			name: "map_tolerated_failure_count_keeps_error_outputs",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":1,
				"ItemProcessor":{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":2,"Next":"F"}],"Default":"OK"},
					"F":{"Type":"Fail","Error":"E","Cause":"c"},"OK":{"Type":"Pass","End":true}}},"End":true}}}`,
			input:      `[1,2,3]`,
			wantOutput: `[1,{"Error":"E","Cause":"c"},3]`,
		},
		{
			name: "map_tolerated_failure_count_exceeded_fails",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","ToleratedFailureCount":0,
				"ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"c"}}},"End":true}}}`,
			input:     `[1]`,
			wantError: "States.ExceedToleratedFailureThreshold",
		},
		{
			name:       "wait_seconds_expression_waits",
			def:        `{"QueryLanguage":"JSONata","StartAt":"W","States":{"W":{"Type":"Wait","Seconds":"{% $states.input.s %}","End":true}}}`,
			input:      `{"s":5}`,
			wantOutput: `{"s":5}`,
		},
		{
			name:      "fail_error_and_cause_expressions",
			def:       `{"QueryLanguage":"JSONata","StartAt":"F","States":{"F":{"Type":"Fail","Error":"{% $states.input.e %}","Cause":"{% 'because ' & $states.input.e %}"}}}`,
			input:     `{"e":"Bad"}`,
			wantError: "Bad",
			wantCause: "because Bad",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := runDef(t, tc.def, tc.input, tc.fails)
			if tc.wantError != "" {
				if ex.Status != StatusFailed || ex.Error != tc.wantError || !strings.Contains(ex.Cause, tc.wantCause) {
					t.Fatalf("got %s %q %q, want FAILED %q with cause containing %q", ex.Status, ex.Error, ex.Cause, tc.wantError, tc.wantCause)
				}
				return
			}
			if ex.Status != StatusSucceeded {
				t.Fatalf("got %s (%s: %s), want SUCCEEDED", ex.Status, ex.Error, ex.Cause)
			}
			if !sameJSON(t, ex.Output, tc.wantOutput) {
				t.Errorf("output: got %s, want %s", ex.Output, tc.wantOutput)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	tests := []struct {
		name, def, input string
		wantTypes        []string
	}{
		{
			name:      "evaluation_failed_precedes_execution_failed",
			def:       `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","Output":"{% $nope %}","End":true}}}`,
			input:     `{}`,
			wantTypes: []string{"ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"},
		},
		{
			name: "map_state_failed_only_after_last_retry",
			def: `{"StartAt":"M","States":{"M":{"Type":"Map","Retry":[{"ErrorEquals":["States.ALL"],"MaxAttempts":1}],
				"ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E"}}},"End":true}}}`,
			input: `[1]`,
			wantTypes: []string{"ExecutionStarted", "MapStateEntered",
				"MapStateStarted", "MapIterationStarted", "FailStateEntered", "MapIterationFailed",
				"MapStateStarted", "MapIterationStarted", "FailStateEntered", "MapIterationFailed",
				"MapStateFailed", "ExecutionFailed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := runDef(t, tc.def, tc.input, nil)
			var got []string
			for _, e := range ex.Events {
				got = append(got, e.Type)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantTypes, ",") {
				t.Errorf("events:\n got  %v\n want %v", got, tc.wantTypes)
			}
		})
	}
}

func TestAssignedVariablesInExitedEvent(t *testing.T) {
	ex := runDef(t, `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"a":{"b":1}},"End":true}}}`, `{}`, nil)
	d, _ := ex.Events[2].Details.(map[string]any)
	av, _ := d["assignedVariables"].(map[string]any)
	if got, want := av["a"], `{"b":1}`; got != want {
		t.Errorf("assignedVariables[a]: got %v, want %s", got, want)
	}
}
