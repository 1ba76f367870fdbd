package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// TestLambdaIntake runs the intake function's real bootstrap under the Runtime Interface
// Emulator: a PagerDuty event files a ticket in DynamoDB (minidyn) and starts the workflow, the
// same dedup_key folds without a start, resolve resolves, a bad key gets PagerDuty's 400, and a
// heartbeat ping answers 200.
func TestLambdaIntake(t *testing.T) {
	s := newStack(t)
	states := awstest.StartSFN(t)
	ddb := awstest.DynamoDB(s.common["AWS_ENDPOINT_URL_DYNAMODB"])
	ints := dynamo.NewIntegrations(ddb, s.table)
	now := time.Now()
	events, key, err := ticket.NewIntegrationFrom("int-events", ticket.NewIntegration{Name: "Prometheus"}, now)
	if err != nil {
		t.Fatal(err)
	}
	hb, hbKey, _ := ticket.NewIntegrationFrom("int-hb", ticket.NewIntegration{Name: "backup", Type: ticket.IntegrationHeartbeat, Interval: "1h"}, now)
	for _, i := range []*ticket.Integration{events, hb} {
		if err := ints.CreateIntegration(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	fn := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/intake"), s.env(map[string]string{
		"AWS_ENDPOINT_URL_SFN": states.URL, "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:notify",
	}))
	event := func(action, k string) string {
		return fmt.Sprintf(`{"routing_key":%q,"event_action":%q,"dedup_key":"disk-1","payload":{"summary":"Disk full","source":"db-1","severity":"critical"}}`, k, action)
	}
	for i := 0; i < 2; i++ {
		resp, body := invokeHTTP(t, fn, httpEvent("POST", "/v2/enqueue", "/v2/enqueue", "", event("trigger", key), nil))
		if resp.StatusCode != 202 || !strings.Contains(body, `"status":"success"`) || !strings.Contains(body, `"dedup_key":"disk-1"`) {
			t.Fatalf("trigger %d = %d %s", i, resp.StatusCode, body)
		}
	}
	tk, err := s.store.FindOpenByDedupKey(context.Background(), ticket.DedupScope("int-events", "disk-1"))
	if err != nil || tk.Occurrences != 2 || tk.Severity != ticket.SeverityCritical {
		t.Fatalf("ticket %+v, %v; want one critical ticket triggered twice", tk, err)
	}
	if got := states.Started(); len(got) != 1 || got[0].Name != tk.ID {
		t.Errorf("started %+v, want one execution for %s (a fold pages nobody)", got, tk.ID)
	}
	resp, body := invokeHTTP(t, fn, httpEvent("POST", "/v2/enqueue", "/v2/enqueue", "", event("resolve", key), nil))
	if resp.StatusCode != 202 {
		t.Fatalf("resolve = %d %s", resp.StatusCode, body)
	}
	if got, _ := s.store.Get(context.Background(), tk.ID); got.Status != ticket.StatusResolved {
		t.Errorf("status %s after resolve", got.Status)
	}
	resp, body = invokeHTTP(t, fn, httpEvent("POST", "/v2/enqueue", "/v2/enqueue", "", event("trigger", strings.Repeat("0", 32)), nil))
	if resp.StatusCode != 400 || !strings.Contains(body, `"status":"invalid event"`) || !strings.Contains(body, "Invalid routing key") {
		t.Errorf("bad key = %d %s, want PagerDuty's 400", resp.StatusCode, body)
	}
	resp, body = invokeHTTP(t, fn, httpEvent("POST", "/v1/heartbeat/{key}", "/v1/heartbeat/"+hbKey, "", "", nil))
	if resp.StatusCode != 200 || !strings.Contains(body, `"state":"up"`) {
		t.Errorf("heartbeat ping = %d %s", resp.StatusCode, body)
	}
}
