package lambdainvoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/lambdainvoke"
)

const fn = "arn:aws:lambda:us-east-1:000000000000:function:incident-manager-publish"

// lambdaAPI answers Invoke as the Lambda service would with the given status, headers and body.
func lambdaAPI(t *testing.T, status int, header map[string]string, body string) (url string, got *string) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		path = r.URL.Path + " " + string(b)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &path
}

func TestInvoke(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      string // output, or the failure name
		wantCause string
	}{
		{"OK", 200, nil, `{"ticketId":"t1","attempts":1}`, `{"ticketId":"t1","attempts":1}`, ""},
		{"FunctionError", 200, map[string]string{"X-Amz-Function-Error": "Unhandled"}, `{"errorMessage":"sns: 500","errorType":"TransientError"}`, "TransientError", `"errorMessage":"sns: 500"`},
		{"ErrorDocumentWithoutHeader", 200, nil, `{"errorMessage":"no ticket","errorType":"PermanentError"}`, "PermanentError", "no ticket"},
		{"ErrServiceException", 500, map[string]string{"X-Amzn-ErrorType": "ServiceException"}, `{"Type":"Service","message":"boom"}`, "Lambda.ServiceException", "boom"},
		{"ErrThrottled", 429, map[string]string{"X-Amzn-ErrorType": "TooManyRequestsException"}, `{"Type":"User","message":"Rate Exceeded."}`, "Lambda.TooManyRequestsException", "Rate Exceeded."},
		{"ErrNotFound", 404, map[string]string{"X-Amzn-ErrorType": "ResourceNotFoundException"}, `{"Type":"User","message":"Function not found"}`, "Lambda.ResourceNotFoundException", "Function not found"},
		{"ErrOther4xx", 400, map[string]string{"X-Amzn-ErrorType": "InvalidZipFileException"}, `{"message":"bad zip"}`, "Lambda.AWSLambdaException", "bad zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, got := lambdaAPI(t, tc.status, tc.header, tc.body)
			inv := lambdainvoke.New(awstest.Config(url), lambdainvoke.Endpoint(url))
			out, err := inv.Invoke(context.Background(), fn, json.RawMessage(`{"ticketId":"t1"}`))
			if !strings.Contains(*got, "/2015-03-31/functions/incident-manager-publish/invocations {\"ticketId\":\"t1\"}") {
				t.Errorf("request %q, want the function name in the path and the input as payload", *got)
			}
			var f *asl.TaskFailure
			if errors.As(err, &f) {
				if f.Name != tc.want || !strings.Contains(f.Cause, tc.wantCause) {
					t.Errorf("failure %s (cause %q), want %s with a cause containing %q", f.Name, f.Cause, tc.want, tc.wantCause)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %T %v", err, err)
			}
			if string(out) != tc.want {
				t.Errorf("output %s, want %s", out, tc.want)
			}
		})
	}
}

func TestInvokeErrUnreachable(t *testing.T) {
	url := "http://" + awstest.FreeAddr(t)
	_, err := lambdainvoke.New(awstest.Config(url), lambdainvoke.Endpoint(url)).Invoke(context.Background(), fn, json.RawMessage(`{}`))
	var f *asl.TaskFailure
	if !errors.As(err, &f) || f.Name != "Lambda.SdkClientException" {
		t.Errorf("Invoke on a closed port: %v, want Lambda.SdkClientException", err)
	}
}

func TestInvokeOptimizedIntegration(t *testing.T) {
	url, got := lambdaAPI(t, 200, nil, `{"ok":true}`)
	inv := lambdainvoke.New(awstest.Config(url), lambdainvoke.Emulators(map[string]string{fn: url}))
	out, err := inv.Invoke(context.Background(), "arn:aws:states:::lambda:invoke", json.RawMessage(`{"FunctionName":"`+fn+`","Payload":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(*got, "/2015-03-31/functions/function/invocations ") {
		t.Errorf("request %q, want the emulator's function path", *got)
	}
	var res struct {
		Payload    map[string]bool
		StatusCode int
	}
	if err := json.Unmarshal(out, &res); err != nil || !res.Payload["ok"] || res.StatusCode != 200 {
		t.Errorf("output %s, want the payload wrapped with StatusCode 200", out)
	}
}

func TestEmulatorsErrUnknownFunction(t *testing.T) {
	_, err := lambdainvoke.Emulators(map[string]string{})("arn:aws:lambda:us-east-1:0:function:nope")
	var f *asl.TaskFailure
	if !errors.As(err, &f) || f.Name != "Lambda.ResourceNotFoundException" {
		t.Errorf("unknown function: %v, want Lambda.ResourceNotFoundException", err)
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{
		fn:                 "incident-manager-publish",
		fn + ":live":       "incident-manager-publish",
		"incident-manager": "incident-manager",
	} {
		if got := lambdainvoke.FunctionName(in); got != want {
			t.Errorf("FunctionName(%q) = %q, want %q", in, got, want)
		}
	}
}
