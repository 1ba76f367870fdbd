package ses_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/incidentmanager/incidents/internal/ses"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// fakeSES is the one SES v2 call used, as the real SDK client sends it.
func fakeSES(t *testing.T, status int, errType string, got *map[string]any) *sesv2.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v2/email/outbound-emails" {
			t.Errorf("%s %s, want POST /v2/email/outbound-emails", r.Method, r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, got)
		if status != 200 {
			w.Header().Set("X-Amzn-Errortype", errType)
			w.WriteHeader(status)
			w.Write([]byte(`{"message":"no"}`))
			return
		}
		w.Write([]byte(`{"MessageId":"0100-abc"}`))
	}))
	t.Cleanup(srv.Close)
	return sesv2.New(sesv2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""), RetryMaxAttempts: 1})
}

func TestSendSimpleWithHeaders(t *testing.T) {
	var got map[string]any
	m := ses.New(fakeSES(t, 200, "", &got), "support@example.com")
	err := m.Send(context.Background(), ticket.Mail{
		To: []string{"ada@example.com"}, Subject: "[#t-1] Re: VPN\r\nBcc: x@example.com", Text: "text", HTML: "<p>html</p>",
		References: []string{"ticket.t-1@example.com"}, Headers: map[string]string{"Auto-Submitted": "auto-generated"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	s := string(b)
	for _, want := range []string{`"FromEmailAddress":"support@example.com"`, `"ToAddresses":["ada@example.com"]`, `"Data":"[#t-1] Re: VPN Bcc: x@example.com"`, `"Data":"\u003cp\u003ehtml\u003c/p\u003e"`, `"Name":"References","Value":"\u003cticket.t-1@example.com\u003e"`, `"Name":"Auto-Submitted"`} {
		if !strings.Contains(s, want) {
			t.Errorf("request %s lacks %s", s, want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		errType   string
		transient bool
	}{
		{"ErrThrottled", 429, "TooManyRequestsException", true},
		{"ErrRejected", 400, "MessageRejected", false},
		{"ErrServer", 500, "InternalFailure", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			err := ses.New(fakeSES(t, tc.status, tc.errType, &got), "support@example.com").Send(context.Background(), ticket.Mail{To: []string{"a@example.com"}, Subject: "s", Text: "t"})
			if err == nil || ticket.IsTransient(err) != tc.transient {
				t.Errorf("err %T %v, want transient %v", err, err, tc.transient)
			}
		})
	}
}
