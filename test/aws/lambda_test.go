package aws_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
	"github.com/incidentmanager/incidents/tasks"
)

const (
	stage      = "/incident-manager/test"
	adminToken = "admin-token-for-tests-0123456789"
	cursorKey  = "cursor-key-for-tests-0123456789ab"
)

// stack is the stand-ins of one deployment: DynamoDB (minidyn over TCP), SNS/SQS (goaws),
// Parameter Store, and the environment a function gets from template.yaml pointed at them.
type stack struct {
	table  string
	store  *dynamo.Store
	topic  *awstest.Topic
	goaws  *awstest.Goaws
	ssm    *awstest.SSM
	common map[string]string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ddbURL := awstest.Minidyn(t)
	ddb := awstest.DynamoDB(ddbURL)
	s := &stack{table: "tickets-" + uuid.NewString()[:8], goaws: awstest.StartGoaws(t), ssm: awstest.StartSSM(t)}
	awstest.CreateTable(t, ddb, dynamo.TableInput(s.table))
	s.store = dynamo.NewStore(ddb, s.table, []byte(cursorKey))
	s.topic = s.goaws.NewTopic(t)
	s.ssm.Put(stage+"/admin-token", "SecureString", adminToken)
	s.ssm.Put(stage+"/cursor-key", "SecureString", cursorKey)
	s.ssm.Put(stage+"/config/notifications-enabled", "String", "true")
	s.ssm.Put(stage+"/config/subject-prefix", "String", "[Test]")
	s.ssm.Put(stage+"/config/site-url", "String", "https://d111.cloudfront.net")
	s.ssm.Put(stage+"/config/webhooks", "StringList", "-")
	s.common = map[string]string{
		"AWS_REGION":                awstest.Region,
		"AWS_ACCESS_KEY_ID":         "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":     "local-secret",
		"AWS_MAX_ATTEMPTS":          "1", // a stand-in's injected failure must reach the function
		"AWS_LAMBDA_LOG_FORMAT":     "JSON",
		"AWS_ENDPOINT_URL_DYNAMODB": ddbURL,
		"AWS_ENDPOINT_URL_SNS":      s.goaws.URL,
		"AWS_ENDPOINT_URL_SSM":      s.ssm.URL,
		"TABLE_NAME":                s.table,
	}
	return s
}

// env is the common environment plus the function's own variables.
func (s *stack) env(extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range s.common {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// httpEvent is an API Gateway HTTP API (payload 2.0) event as AWS sends it to the function.
func httpEvent(method, route, path, query, body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"host": "abc123.execute-api.us-east-1.amazonaws.com", "user-agent": "test"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	if body != "" {
		h["content-type"] = "application/json"
	}
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + route, RawPath: path, RawQueryString: query,
		Headers: h, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " " + route, AccountID: "000000000000", Stage: "$default",
			RequestID: "req-" + uuid.NewString()[:8], APIID: "abc123", DomainName: "abc123.execute-api.us-east-1.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "198.51.100.7", UserAgent: "test"},
		},
	}
}

func invokeHTTP(t *testing.T, fn *awstest.RIE, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, string) {
	t.Helper()
	raw := fn.Invoke(t, ev)
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("not an API Gateway response: %s", raw)
	}
	body := resp.Body
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			t.Fatal(err)
		}
		body = string(b)
	}
	return resp, body
}

type lambdaError struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

const newTicket = `{"title":"Printer on fire","description":"Smoke from tray 2 ✓","severity":"critical","category":"hardware","reporter":{"name":"Ada","email":"ada@example.com"}}`

// TestLambdaAPI runs the create, get, scan and admin functions' real bootstraps under the
// Runtime Interface Emulator with API Gateway v2 events, against minidyn, the Parameter Store
// fake and a Step Functions fake that records the start.
func TestLambdaAPI(t *testing.T) {
	s := newStack(t)
	states := awstest.StartSFN(t)
	const machine = "arn:aws:states:us-east-1:000000000000:stateMachine:incident-manager-notify"
	create := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/create"), s.env(map[string]string{"AWS_ENDPOINT_URL_SFN": states.URL, "STATE_MACHINE_ARN": machine, "REPORTER_MAIL": "false"}))
	get := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/get"), s.env(nil))
	scan := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/scan"), s.env(map[string]string{"ADMIN_TOKEN_PARAM": stage + "/admin-token", "CURSOR_KEY_PARAM": stage + "/cursor-key"}))
	admin := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/admin"), s.env(map[string]string{"ADMIN_TOKEN_PARAM": stage + "/admin-token", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:notify"}))
	bearer := map[string]string{"authorization": "Bearer " + adminToken}

	resp, body := invokeHTTP(t, create, httpEvent("POST", "/ticket", "/ticket", "", newTicket, map[string]string{"Idempotency-Key": "k-1"}))
	if resp.StatusCode != 201 {
		t.Fatalf("POST /ticket = %d %s, want 201", resp.StatusCode, body)
	}
	var created ticket.Ticket
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" {
		t.Fatalf("POST /ticket body %s: %v", body, err)
	}
	if stored, err := s.store.Get(context.Background(), created.ID); err != nil || stored.Title != "Printer on fire" {
		t.Fatalf("ticket in minidyn = %+v, %v", stored, err)
	}
	started := states.Started()
	if len(started) != 1 || started[0].Name != created.ID || started[0].StateMachineArn != machine || !strings.Contains(started[0].Input, created.ID) {
		t.Errorf("StartExecution calls %+v, want one named %s on %s with the ticket as input", started, created.ID, machine)
	}
	resp, body = invokeHTTP(t, create, httpEvent("POST", "/ticket", "/ticket", "", newTicket, map[string]string{"Idempotency-Key": "k-1"}))
	if resp.StatusCode/100 != 2 || !strings.Contains(body, created.ID) {
		t.Errorf("replayed POST /ticket = %d %s, want the same ticket %s", resp.StatusCode, body, created.ID)
	}
	resp, body = invokeHTTP(t, create, httpEvent("POST", "/ticket", "/ticket", "", `{"title":"","reporter":{"name":"Ada","email":"nope"}}`, nil))
	if resp.StatusCode != 400 || !strings.Contains(resp.Headers["Content-Type"], "problem+json") || !strings.Contains(body, "reporter.email") {
		t.Errorf("invalid POST /ticket = %d %v %s, want a 400 problem naming reporter.email", resp.StatusCode, resp.Headers, body)
	}

	resp, body = invokeHTTP(t, get, httpEvent("GET", "/ticket/{id}", "/ticket/"+created.ID, "", "", nil))
	if resp.StatusCode != 200 || !strings.Contains(body, `"title":"Printer on fire"`) {
		t.Errorf("GET /ticket/{id} = %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `"channels":[]`) || strings.Contains(body, `"execution":"arn`) {
		t.Errorf("public GET /ticket/{id} = %s, want the public view", body)
	}
	// Delivery internals only admins may see.
	if _, err := s.store.Update(context.Background(), created.ID, func(x *ticket.Ticket) error {
		x.Notification.Execution = "arn:aws:states:us-east-1:000000000000:express:incident-manager-notify:" + x.ID + ":1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The public function holds no admin token: the bearer header changes nothing there, and
	// admins read the whole ticket from the admin function.
	resp, body = invokeHTTP(t, get, httpEvent("GET", "/ticket/{id}", "/ticket/"+created.ID, "", "", bearer))
	if resp.StatusCode != 200 || !strings.Contains(body, `"channels":[]`) || strings.Contains(body, `"execution":"arn`) {
		t.Errorf("GET /ticket/{id} with a bearer token = %d %s, want the public view", resp.StatusCode, body)
	}
	resp, _ = invokeHTTP(t, get, httpEvent("GET", "/ticket/{id}", "/ticket/"+uuid.NewString(), "", "", nil))
	if resp.StatusCode != 404 {
		t.Errorf("GET /ticket/{unknown} = %d, want 404", resp.StatusCode)
	}

	resp, _ = invokeHTTP(t, scan, httpEvent("GET", "/ticket", "/ticket", "", "", nil))
	if resp.StatusCode != 401 {
		t.Errorf("GET /ticket without the token = %d, want 401", resp.StatusCode)
	}
	older := []string{}
	for i := 0; i < 2; i++ {
		tk := storetest.Make(time.Duration(i)*time.Minute, ticket.SeverityLow)
		if _, _, err := s.store.Create(context.Background(), tk, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		older = append([]string{tk.ID}, older...)
	}
	seen := map[string]bool{}
	var order []string
	query := "limit=2"
	for page := 0; page < 5; page++ {
		resp, body = invokeHTTP(t, scan, httpEvent("GET", "/ticket", "/ticket", query, "", bearer))
		if resp.StatusCode != 200 {
			t.Fatalf("GET /ticket?%s = %d %s", query, resp.StatusCode, body)
		}
		var p struct {
			Items      []ticket.Ticket `json:"items"`
			NextCursor string          `json:"nextCursor"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("list body %s: %v", body, err)
		}
		for _, it := range p.Items {
			seen[it.ID] = true
			order = append(order, it.ID)
		}
		if p.NextCursor == "" {
			break
		}
		query = "limit=2&cursor=" + url.QueryEscape(p.NextCursor)
	}
	if len(seen) != 3 || !seen[created.ID] {
		t.Errorf("paged list saw %d tickets (%v), want 3 including %s", len(seen), seen, created.ID)
	}
	if want := append([]string{created.ID}, older...); fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("paged list order %v, want newest first across pages %v", order, want)
	}

	resp, body = invokeHTTP(t, admin, httpEvent("GET", "/admin/tickets/{id}", "/admin/tickets/"+created.ID, "", "", bearer))
	if resp.StatusCode != 200 || !strings.Contains(body, `"execution":"arn`) || resp.Headers["Etag"]+resp.Headers["ETag"] == "" {
		t.Errorf("GET /admin/tickets/{id} = %d %v %s, want the whole ticket with its ETag", resp.StatusCode, resp.Headers, body)
	}
	resp, _ = invokeHTTP(t, admin, httpEvent("GET", "/admin/tickets/{id}", "/admin/tickets/"+created.ID, "", "", nil))
	if resp.StatusCode != 401 {
		t.Errorf("GET /admin/tickets/{id} without the token = %d, want 401", resp.StatusCode)
	}
	resp, body = invokeHTTP(t, admin, httpEvent("GET", "/admin/stats", "/admin/stats", "", "", bearer))
	if resp.StatusCode != 200 || !strings.Contains(body, `"total":3`) {
		t.Errorf("GET /admin/stats = %d %s, want total 3", resp.StatusCode, body)
	}
	resp, body = invokeHTTP(t, admin, httpEvent("PATCH", "/ticket/{id}", "/ticket/"+created.ID, "", `{"status":"acknowledged"}`, bearer))
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"acknowledged"`) {
		t.Errorf("PATCH /ticket/{id} = %d %s, want acknowledged", resp.StatusCode, body)
	}
}

// TestLambdaTasks runs the publish and record functions' bootstraps with task payloads, as
// Step Functions sends them: delivery to goaws, and the error names Retry/Catch match.
func TestLambdaTasks(t *testing.T) {
	s := newStack(t)
	publish := awstest.StartRIE(t, awstest.BuildLambda(t, "./tasks/publish"), s.env(map[string]string{"TOPIC_ARN": s.topic.Arn, "CONFIG_PATH": stage + "/config"}))
	record := awstest.StartRIE(t, awstest.BuildLambda(t, "./tasks/record"), s.env(nil))
	ctx := context.Background()
	tk := storetest.Make(0, ticket.SeverityCritical)
	if _, _, err := s.store.Create(ctx, tk, ticket.Idempotency{}); err != nil {
		t.Fatal(err)
	}

	t.Run("TransientError", func(t *testing.T) {
		s.goaws.FailNext()
		var e lambdaError
		json.Unmarshal(publish.Invoke(t, map[string]any{"ticketId": tk.ID, "execution": "exec-1", "attempt": 0}), &e)
		if e.ErrorType != "TransientError" {
			t.Errorf("publish during an SNS 500: %+v, want errorType TransientError", e)
		}
	})
	t.Run("Delivers", func(t *testing.T) {
		out := publish.Invoke(t, map[string]any{"ticketId": tk.ID, "execution": "exec-1"})
		var res struct {
			Status   string
			Sent     []string
			Attempts int
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Status != "SENT" || len(res.Sent) != 1 || res.Sent[0] != "sns:"+s.topic.Arn || res.Attempts != 2 {
			t.Fatalf("publish = %s, want SENT to the topic on attempt 2", out)
		}
		got := s.topic.WaitReceive(t, 1, 5*time.Second)
		if len(got) != 1 || !strings.HasPrefix(got[0].Subject, "[Test] critical: Printer on fire") || !strings.Contains(got[0].Message, "https://d111.cloudfront.net/#/admin/ticket/"+tk.ID) {
			t.Errorf("SQS subscriber got %+v, want the notification with the configured prefix and link", got)
		}
		if len(got) == 1 && got[0].MessageAttributes["deliveryId"].Value != ticket.DeliveryID(tk.ID, "sns:"+s.topic.Arn) {
			t.Errorf("message attributes %+v, want the delivery ID", got[0].MessageAttributes)
		}
	})
	t.Run("DuplicateExecutionSendsNothing", func(t *testing.T) {
		out := publish.Invoke(t, map[string]any{"ticketId": tk.ID, "execution": "exec-2"})
		if !strings.Contains(string(out), `"status":"SENT"`) || !strings.Contains(string(out), `"sent":[]`) {
			t.Errorf("a duplicate execution's publish = %s, want SENT with nothing sent", out)
		}
		if got := s.topic.Receive(t); len(got) != 0 {
			t.Errorf("duplicate delivery: %+v", got)
		}
	})
	t.Run("OverlappingExecutionBacksOff", func(t *testing.T) {
		busy := storetest.Make(time.Second, ticket.SeverityHigh)
		busy.Notification.LeaseHolder, busy.Notification.LeaseUntil = "exec-other", time.Now().Add(ticket.LeaseDuration)
		if _, _, err := s.store.Create(ctx, busy, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		var e lambdaError
		json.Unmarshal(publish.Invoke(t, map[string]any{"ticketId": busy.ID, "execution": "exec-3"}), &e)
		if e.ErrorType != "TransientError" {
			t.Errorf("an execution while another holds the lease: %+v, want errorType TransientError", e)
		}
	})
	t.Run("PermanentError", func(t *testing.T) {
		var e lambdaError
		json.Unmarshal(publish.Invoke(t, map[string]any{"ticketId": uuid.NewString()}), &e)
		if e.ErrorType != "PermanentError" {
			t.Errorf("publish for an unknown ticket: %+v, want errorType PermanentError", e)
		}
	})
	t.Run("RecordFailure", func(t *testing.T) {
		failing := storetest.Make(2*time.Second, ticket.SeverityHigh)
		if _, _, err := s.store.Create(ctx, failing, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
		out := record.Invoke(t, map[string]any{"ticketId": failing.ID, "execution": "exec-4", "error": map[string]string{"Error": "States.Timeout", "Cause": ""}})
		if !strings.Contains(string(out), `"status":"FAILED"`) {
			t.Fatalf("record = %s", out)
		}
		got, err := s.store.Get(ctx, failing.ID)
		if err != nil || got.Notification.Status != ticket.NotificationFailed || got.Notification.LastError != "States.Timeout" {
			t.Errorf("ticket notification %+v, %v; want FAILED with States.Timeout", got.Notification, err)
		}
	})
	t.Run("RecordPermanentError", func(t *testing.T) {
		var e lambdaError
		json.Unmarshal(record.Invoke(t, map[string]any{"execution": "exec-5"}), &e)
		if e.ErrorType != "PermanentError" {
			t.Errorf("record without a ticket: %+v, want errorType PermanentError", e)
		}
	})
}

// TestLambdaSweep runs the scheduled sweeper's bootstrap: it restarts the workflow for a ticket
// left PENDING (once per staleness period) and gives up on one restarted too often.
func TestLambdaSweep(t *testing.T) {
	s := newStack(t)
	states := awstest.StartSFN(t)
	sweep := awstest.StartRIE(t, awstest.BuildLambda(t, "./tasks/sweep"), s.env(map[string]string{"AWS_ENDPOINT_URL_SFN": states.URL, "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:notify"}))
	ctx := context.Background()
	stuck := storetest.Make(-time.Hour, ticket.SeverityHigh)
	hopeless := storetest.Make(-time.Hour, ticket.SeverityLow)
	hopeless.Notification.Runs = tasks.DefaultMaxRuns // began that often, never finished
	sent := storetest.Make(-time.Hour, ticket.SeverityLow)
	sent.FailDelivery("", "test", sent.CreatedAt)
	for _, tk := range []*ticket.Ticket{stuck, hopeless, sent} {
		tk.UpdatedAt = time.Now().Add(-time.Hour).UTC() // stale by the wall clock the Lambda reads
		if _, _, err := s.store.Create(ctx, tk, ticket.Idempotency{}); err != nil {
			t.Fatal(err)
		}
	}
	scheduled := map[string]any{"source": "aws.events", "detail-type": "Scheduled Event", "detail": map[string]any{}}
	var res struct{ Restarted, GaveUp []string }
	if err := json.Unmarshal(sweep.Invoke(t, scheduled), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Restarted) != 1 || res.Restarted[0] != stuck.ID || len(res.GaveUp) != 1 || res.GaveUp[0] != hopeless.ID {
		t.Errorf("sweep = %+v, want %s restarted and %s given up", res, stuck.ID, hopeless.ID)
	}
	if got := states.Started(); len(got) != 1 || got[0].Name != stuck.ID {
		t.Errorf("executions started %+v, want one for %s", got, stuck.ID)
	}
	if got, _ := s.store.Get(ctx, hopeless.ID); got.Notification.Status != ticket.NotificationFailed || !strings.Contains(got.Notification.LastError, "runs") {
		t.Errorf("hopeless ticket notification %+v, want FAILED with the reason", got.Notification)
	}
	// The restart moved the ticket's UpdatedAt: the next sweep leaves it alone.
	if err := json.Unmarshal(sweep.Invoke(t, scheduled), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Restarted) != 0 || len(states.Started()) != 1 {
		t.Errorf("second sweep restarted %v; want nothing until the ticket is stale again", res.Restarted)
	}
}

// TestLambdaAuthorizer runs the admin routes' Lambda authorizer bootstrap with HTTP API
// authorizer events (payload 2.0): only the admin token from Parameter Store gets through.
func TestLambdaAuthorizer(t *testing.T) {
	s := newStack(t)
	authorizer := awstest.StartRIE(t, awstest.BuildLambda(t, "./api/authorizer"), s.env(map[string]string{"ADMIN_TOKEN_PARAM": stage + "/admin-token"}))
	for _, tc := range []struct {
		name   string
		header string
		want   bool
	}{
		{"OK", "Bearer " + adminToken, true},
		{"ErrWrongToken", "Bearer not-the-token", false},
		{"ErrNoBearer", adminToken, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := authorizer.Invoke(t, events.APIGatewayV2CustomAuthorizerV2Request{
				Version: "2.0", Type: "REQUEST", RouteKey: "GET /ticket", RawPath: "/ticket",
				IdentitySource: []string{tc.header}, Headers: map[string]string{"authorization": tc.header},
			})
			var res events.APIGatewayV2CustomAuthorizerSimpleResponse
			if err := json.Unmarshal(out, &res); err != nil || res.IsAuthorized != tc.want {
				t.Errorf("authorizer = %s, want isAuthorized %v", out, tc.want)
			}
		})
	}
}
