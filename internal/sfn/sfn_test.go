package sfn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/sfn"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
)

const machine = "arn:aws:states:us-east-1:000000000000:stateMachine:notify"

func TestStart(t *testing.T) {
	f := awstest.StartSFN(t)
	s := sfn.NewStarter(awstest.SFNClient(f.URL), machine)
	tk := storetest.Make(0, ticket.SeverityCritical)
	arn, err := s.Start(context.Background(), tk.ID)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	got := f.Started()
	if len(got) != 1 {
		t.Fatalf("%d executions started, want 1", len(got))
	}
	if got[0].ExecutionArn != arn || got[0].Name != tk.ID || got[0].StateMachineArn != machine {
		t.Errorf("started %+v (returned %s), want name %s on %s", got[0], arn, tk.ID, machine)
	}
	// The ticket's ID and nothing else: no personal data in the execution.
	if want := `{"id":"` + tk.ID + `"}`; got[0].Input != want {
		t.Errorf("input %s, want %s", got[0].Input, want)
	}
}

func TestStartErrThrottled(t *testing.T) {
	f := awstest.StartSFN(t)
	f.FailNext()
	_, err := sfn.NewStarter(awstest.SFNClient(f.URL), machine).Start(context.Background(), storetest.Make(0, ticket.SeverityLow).ID)
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("Start during throttling: err %v, want the ThrottlingException returned", err)
	}
}
