package aws_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/lambdainvoke"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/statemachine"
)

// TestAWSPathEndToEnd is the deployment's whole path on one machine: the create function's
// bootstrap under the Runtime Interface Emulator stores the ticket in minidyn and calls
// StartExecution on the local Step Functions API (sfnapi, the engine running
// statemachine/notify.asl.json with the functions' ARNs substituted as SAM would); the Task
// states invoke the publish and record bootstraps through the Lambda Invoke API of their
// emulators; publish sends to the goaws topic, whose SQS subscriber receives the notification;
// and the ticket in minidyn ends SENT, naming the execution.
func TestAWSPathEndToEnd(t *testing.T) {
	s := newStack(t)
	const (
		account    = "000000000000"
		machineArn = "arn:aws:states:us-east-1:" + account + ":stateMachine:incident-manager-notify"
	)
	arn := func(fn string) string {
		return "arn:aws:lambda:us-east-1:" + account + ":function:incident-manager-" + fn
	}

	publish := awstest.StartRIE(t, awstest.BuildLambda(t, "./tasks/publish"), s.env(map[string]string{"TOPIC_ARN": s.topic.Arn, "CONFIG_PATH": stage + "/config"}))
	record := awstest.StartRIE(t, awstest.BuildLambda(t, "./tasks/record"), s.env(nil))

	machine, err := statemachine.Load(arn)
	if err != nil {
		t.Fatalf("load the workflow definition: %v", err)
	}
	invoker := lambdainvoke.New(awstest.Config("http://unused.invalid"), lambdainvoke.Emulators(map[string]string{
		arn(statemachine.PublishFunction): publish.URL,
		arn(statemachine.RecordFunction):  record.URL,
	}))
	states := sfnapi.New(sfnapi.Config{
		Machines: []sfnapi.Machine{{Arn: machineArn, Type: sfnapi.Express, Definition: machine}},
		Invoker:  invoker,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	statesHTTP := httptest.NewServer(states)
	t.Cleanup(func() { statesHTTP.Close(); states.Shutdown(context.Background()) })

	create := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/create"), s.env(map[string]string{
		"AWS_ENDPOINT_URL_SFN": statesHTTP.URL,
		"STATE_MACHINE_ARN":    machineArn,
		"REPORTER_MAIL":        "false",
	}))

	began := time.Now()
	resp, body := invokeHTTP(t, create, httpEvent("POST", "/ticket", "/ticket", "", newTicket, nil))
	if resp.StatusCode != 201 {
		t.Fatalf("POST /ticket = %d %s, want 201", resp.StatusCode, body)
	}
	var created ticket.Ticket
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	if created.Notification.Status != ticket.NotificationPending {
		t.Errorf("the 201 says notification %s, want PENDING (delivery happens after the answer)", created.Notification.Status)
	}

	got := s.topic.WaitReceive(t, 1, 20*time.Second)
	if len(got) != 1 {
		t.Fatalf("SQS subscriber received %d notifications, want 1", len(got))
	}
	if !strings.Contains(got[0].Subject, "Printer on fire") || got[0].MessageAttributes["ticketId"].Value != created.ID || got[0].TopicArn != s.topic.Arn {
		t.Errorf("notification %+v, want ticket %s's on %s", got[0], created.ID, s.topic.Arn)
	}

	var final *ticket.Ticket
	deadline := time.Now().Add(20 * time.Second)
	for {
		final, err = s.store.Get(context.Background(), created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if final.Notification.Status != ticket.NotificationPending || time.Now().After(deadline) {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("ticket SENT %v after the create was invoked", time.Since(began).Round(time.Millisecond))
	n := final.Notification
	if c := n.Channel("sns:" + s.topic.Arn); n.Status != ticket.NotificationSent || n.Attempts != 1 || len(n.Channels) != 1 || c == nil || c.Status != ticket.NotificationSent {
		t.Fatalf("ticket notification %+v, want SENT after 1 attempt, delivered to the topic", n)
	}
	if !strings.Contains(n.Execution, ":express:incident-manager-notify:"+created.ID+":") {
		t.Errorf("notification.execution = %q, want the Express execution named after the ticket", n.Execution)
	}

	// The ticket record is the source of truth, as on AWS: an Express execution cannot be
	// described or its history read through the Step Functions API (its history lives in the
	// state machine's log group), so nothing here or in production asks for it.
	var kinds []string
	for _, e := range final.Timeline {
		kinds = append(kinds, e.Type)
	}
	if want := []string{ticket.EventCreated, ticket.EventNotifyDelivered, ticket.EventNotifySent}; strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("ticket timeline %v, want %v: delivered, sent", kinds, want)
	}
	if final.Version <= created.Version || !final.UpdatedAt.After(created.UpdatedAt) {
		t.Errorf("ticket version %d updated %s, want it moved on from %d %s by the workflow", final.Version, final.UpdatedAt, created.Version, created.UpdatedAt)
	}
	if final.Notification.LeaseHolder != "" {
		t.Errorf("delivery lease still held by %q after the execution ended", final.Notification.LeaseHolder)
	}
	if got := s.topic.Receive(t); len(got) != 0 {
		t.Errorf("the topic got %d more notifications, want exactly one", len(got))
	}
}
