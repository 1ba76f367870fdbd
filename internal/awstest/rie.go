package awstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// builds caches what this test process has built: package path → binary.
var builds sync.Map

// buildDir holds the binaries this test process builds; Main creates and removes it.
var buildDir string

// Main runs a test binary's tests with a temporary directory for the binaries BuildLambda and
// StartRIE build (some 20 MB each, 140 MB for test/aws), removed when the tests end, so that
// tests leave nothing behind in the checkout. Packages that build Lambdas call it from
// TestMain: func TestMain(m *testing.M) { os.Exit(awstest.Main(m)) }.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "incidents-awstest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "awstest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	buildDir = dir
	return m.Run()
}

// build compiles pkg (a path relative to the repository root, or a module path) for this
// machine's linux architecture into the directory Main made, once per test process.
func build(t testing.TB, pkg, name string, env ...string) string {
	t.Helper()
	if p, ok := builds.Load(pkg); ok {
		return p.(string)
	}
	if buildDir == "" {
		t.Fatal("awstest: building needs a directory: call awstest.Main from the package's TestMain")
	}
	root := RepoRoot(t)
	out := filepath.Join(buildDir, name)
	args := []string{"build", "-trimpath", "-o", out}
	args = append(args, env...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	builds.Store(pkg, out)
	return out
}

// BuildLambda builds a Lambda main package (e.g. "./api/create") as its real bootstrap, with the
// flags deploy/lambda.mk uses, for this machine's architecture (Lambda runs it on arm64).
func BuildLambda(t testing.TB, pkg string) string {
	t.Helper()
	name := strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "-") + "-bootstrap"
	return build(t, pkg, name, "-tags", "lambda.norpc")
}

// RIE is one Lambda function running in the Lambda Runtime Interface Emulator.
type RIE struct {
	URL  string // base URL of its Lambda Invoke API
	mu   sync.Mutex
	logs *bytes.Buffer
}

// StartRIE runs bootstrap under the emulator (the pinned Go tool), with env as the function's
// whole environment, both of its addresses on 127.0.0.1. It stops with the test.
func StartRIE(t testing.TB, bootstrap string, env map[string]string) *RIE {
	t.Helper()
	rie := build(t, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie", "aws-lambda-rie")
	addr, api := FreeAddr(t), FreeAddr(t)
	r := &RIE{URL: "http://" + addr, logs: &bytes.Buffer{}}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, "--log-level", "error", bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	// Only what is given, plus what a process needs: no developer credentials or AWS config
	// leak into the function.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	w := &lockedWriter{mu: &r.mu, w: r.logs}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Runtime Interface Emulator: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s logs:\n%s", filepath.Base(bootstrap), r.Logs())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := WaitListening(ctx, addr); err != nil {
		t.Fatalf("Runtime Interface Emulator did not start: %v\n%s", err, r.Logs())
	}
	return r
}

// Logs returns what the emulator and the function printed so far.
func (r *RIE) Logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// Invoke sends one event (any JSON value) and returns the function's response payload. The
// emulator answers 200 even for a function error; the payload then is the error document.
func (r *RIE) Invoke(t testing.TB, event any) []byte {
	t.Helper()
	b, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(r.URL+"/2015-03-31/functions/function/invocations", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, r.Logs())
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke answered %d: %s\n%s", resp.StatusCode, out, r.Logs())
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
