package aws_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/incidentmanager/incidents/internal/awstest"
)

// TestLambdaSizesAndColdStarts reports, for every function, the size of its bootstrap as
// deployed (linux/arm64, the flags of deploy/lambda.mk) and zipped, and its cold start under
// the Runtime Interface Emulator: the first invocation of a fresh process less a warm one,
// which is what the function's init costs (AWS configuration, SDK clients, reading the
// environment; configuration from Parameter Store is read on the first request and cached).
// It keeps them within bounds that leave the 10 s Lambda init limit far away.
func TestLambdaSizesAndColdStarts(t *testing.T) {
	s := newStack(t)
	env := s.env(map[string]string{
		"TOPIC_ARN": s.topic.Arn, "CONFIG_PATH": stage + "/config", "ADMIN_TOKEN_PARAM": stage + "/admin-token",
		"STATE_MACHINE_ARN": "arn:aws:states:us-east-1:000000000000:stateMachine:notify", "AWS_ENDPOINT_URL_SFN": awstest.StartSFN(t).URL,
		"CURSOR_KEY_PARAM": stage + "/cursor-key", "REPORTER_MAIL": "false",
		"MAIL_BUCKET": "mail", "MAIL_FROM": "help@example.com", "MAIL_PREFIX": "inbound/",
	})
	api := httpEvent("GET", "/healthz", "/healthz", "", "", nil)
	cases := []struct {
		pkg   string
		event any
	}{
		{"./api/create", api}, {"./api/get", api}, {"./api/scan", api}, {"./api/admin", api},
		{"./api/authorizer", events.APIGatewayV2CustomAuthorizerV2Request{Version: "2.0", Type: "REQUEST", RouteKey: "GET /ticket", RawPath: "/ticket", IdentitySource: []string{"Bearer x"}, Headers: map[string]string{"authorization": "Bearer x"}}},
		{"./tasks/publish", map[string]any{"ticketId": "not-there"}},
		{"./tasks/record", map[string]any{"ticketId": "not-there"}},
		{"./tasks/sweep", map[string]any{}},
		{"./api/intake", httpEvent("POST", "/v2/enqueue", "/v2/enqueue", "", `{}`, nil)},
		{"./intake/heartbeats", map[string]any{}},
		{"./intake/mailin", map[string]any{"Records": []any{}}},
		{"./tasks/reportermail", map[string]any{}},
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%-16s %10s %10s %10s %10s\n", "function", "arm64", "zip", "cold", "warm")
	dir := t.TempDir()
	for _, c := range cases {
		name := filepath.Base(c.pkg)
		bin := filepath.Join(dir, name, "bootstrap")
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags=-s", "-o", bin, c.pkg)
		cmd.Dir = awstest.RepoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s for arm64: %v\n%s", c.pkg, err, out)
		}
		st, _ := os.Stat(bin)
		zipped := zipSize(t, bin)

		r := awstest.StartRIE(t, awstest.BuildLambda(t, c.pkg), env)
		start := time.Now()
		r.Invoke(t, c.event)
		cold := time.Since(start)
		start = time.Now()
		r.Invoke(t, c.event)
		warm := time.Since(start)
		fmt.Fprintf(&report, "%-16s %8.1f MB %8.1f MB %7.0f ms %7.1f ms\n", name, float64(st.Size())/1e6, float64(zipped)/1e6, float64(cold.Microseconds())/1000, float64(warm.Microseconds())/1000)
		if st.Size() > 30e6 || zipped > 12e6 {
			t.Errorf("%s: bootstrap %d bytes, zip %d: want under 30 MB and 12 MB", name, st.Size(), zipped)
		}
		if cold-warm > 2*time.Second {
			t.Errorf("%s: cold start %s (warm %s): want the init well under 2 s", name, cold, warm)
		}
	}
	t.Logf("Lambda bootstraps and cold starts under the Runtime Interface Emulator:\n%s", report.String())
}

func zipSize(t *testing.T, file string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	z.Close()
	return b.Len()
}
