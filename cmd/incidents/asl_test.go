package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func aslWriteDefinition(t *testing.T, def string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sm.asl.json")
	if err := os.WriteFile(p, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestASLCommand(t *testing.T) {
	passDef := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"$.a"},"End":true}}}`
	waitDef := `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"Next":"F"},"F":{"Type":"Fail","Error":"E","Cause":"C"}}}`
	taskDef := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true}}}`
	badDef := `{"StartAt":"W","States":{"W":{"Type":"Wait","Timestamp":"yesterday","End":true}}}`
	subDef := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${FnArn}","End":true}}}`
	notify := filepath.Join("..", "..", "statemachine", "notify.asl.json")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStatus string
		wantOut    string // substring of stdout
	}{
		{"OK", []string{"run", "--definition", aslWriteDefinition(t, passDef), "--input", `{"a":1}`}, 0, "SUCCEEDED", `"output":{"x":1}`},
		{"FailedWithVirtualTime", []string{"run", "--virtual-time", "--definition", aslWriteDefinition(t, waitDef)}, 0, "FAILED", `"error":"E"`},
		{"UnboundTask", []string{"run", "--definition", aslWriteDefinition(t, taskDef)}, 0, "FAILED", `no handler is bound to resource`},
		{"History", []string{"run", "--history", "--definition", aslWriteDefinition(t, passDef), "--input", `{"a":1}`}, 0, "SUCCEEDED", `"type":"ExecutionStarted"`},
		{"InvalidDefinition", []string{"run", "--definition", aslWriteDefinition(t, badDef)}, 2, "INVALID_DEFINITION", `SCHEMA_VALIDATION_FAILED`},
		{"Valid", []string{"validate", "--definition", aslWriteDefinition(t, passDef)}, 0, "", `{"valid":true}`},
		{"ValidateInvalid", []string{"validate", "--definition", aslWriteDefinition(t, badDef)}, 2, "INVALID_DEFINITION", ``},
		{"StubbedSubstitution", []string{"run", "--definition", aslWriteDefinition(t, subDef), "--stub", `FnArn={"ok":1}`}, 0, "SUCCEEDED", `"output":{"ok":1}`},
		{"StubbedByResource", []string{"run", "--definition", aslWriteDefinition(t, taskDef), "--stub", `arn:aws:lambda:us-east-1:1:function:f=[1,2]`}, 0, "SUCCEEDED", `"output":[1,2]`},
		{"FailedTask", []string{"run", "--definition", aslWriteDefinition(t, subDef), "--fail", `${FnArn}=TransientError`}, 0, "FAILED", `"error":"TransientError"`},
		{"ProjectWorkflowStubbed", []string{"run", "--virtual-time", "--definition", notify, "--input", `{"id":"t-1"}`, "--stub", `PublishFunctionArn={"status":"SENT","sent":["outbox"],"waitSeconds":0}`, "--stub", `RecordFunctionArn={"status":"FAILED"}`}, 0, "SUCCEEDED", `"publish":{"status":"SENT","sent":["outbox"],"waitSeconds":0}`},
		{"ProjectWorkflowFailurePath", []string{"run", "--virtual-time", "--definition", notify, "--input", `{"id":"t-1"}`, "--fail", `PublishFunctionArn=PermanentError`, "--stub", `RecordFunctionArn={"status":"FAILED"}`}, 0, "FAILED", `"error":"NotificationFailed"`},
		{"Usage", []string{"run"}, 64, "", ``},
		{"UnknownSubcommand", []string{"draw"}, 64, "", ``},
		{"ErrBadStub", []string{"run", "--definition", aslWriteDefinition(t, subDef), "--stub", `FnArn={not json`}, 64, "", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := aslCommand(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d (stdout %s, stderr %s)", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if tt.wantCode == 64 {
				if stderr.Len() == 0 {
					t.Errorf("stderr: got empty, want a usage message")
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v: %s", err, stdout.String())
			}
			if tt.wantStatus != "" && got["status"] != tt.wantStatus {
				t.Errorf("status: got %v, want %s", got["status"], tt.wantStatus)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout: got %s, want it to contain %s", stdout.String(), tt.wantOut)
			}
		})
	}
}

// TestCommandLine: help exits 0 on stdout, mistakes are one line on stderr with a suggestion.
func TestCommandLine(t *testing.T) {
	subDef := aslWriteDefinition(t, `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${FnArn}","End":true}}}`)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring; the whole of stderr must then be one line
	}{
		{"Version", []string{"--version"}, 0, "incidents ", ""},
		{"VersionCommand", []string{"version"}, 0, "go1.", ""},
		{"Help", []string{"--help"}, 0, "incidents asl run", ""},
		{"ServeHelp", []string{"serve", "--help"}, 0, "Ctrl-C", ""},
		{"ServeHelpListsFlags", []string{"serve", "-h"}, 0, "--sfn-state-machine-arn ARN", ""},
		{"ASLHelp", []string{"asl", "--help"}, 0, "incidents asl validate", ""},
		{"ASLRunHelp", []string{"asl", "run", "--help"}, 0, "--stub NAME", ""},
		{"ASLValidateHelp", []string{"asl", "validate", "-h"}, 0, "--definition FILE", ""},
		{"ErrMistypedServeFlag", []string{"serve", "--webhok", "https://example.com/x"}, 64, "", "unknown flag --webhok; did you mean --webhook?"},
		{"ErrMistypedASLFlag", []string{"asl", "run", "--defintion", subDef}, 64, "", "did you mean --definition?"},
		{"ErrUnknownFlagNoSuggestion", []string{"serve", "--zzzzzzzz"}, 64, "", "unknown flag --zzzzzzzz (run"},
		{"ErrBadValue", []string{"serve", "--workers", "many"}, 64, "", `invalid value "many" for flag --workers`},
		{"ErrUnknownCommand", []string{"serv"}, 64, "", "did you mean serve?"},
		{"ErrUnstubbedSubstitutions", []string{"asl", "run", "--definition", filepath.Join("..", "..", "statemachine", "notify.asl.json")}, 64, "", "${PublishFunctionArn}, ${RecordFunctionArn}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d (stdout %q, stderr %q)", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout: got %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if tt.wantStderr == "" {
				if stderr.Len() > 0 {
					t.Errorf("stderr: got %q, want nothing", stderr.String())
				}
				return
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n") + 1; lines > 2 {
				t.Errorf("stderr has %d lines, want a short message: %q", lines, stderr.String())
			}
		})
	}
}

// TestASLRunStopsOnSignal: the real binary, in a one-hour Wait, stops at SIGINT or SIGTERM and
// reports the execution ABORTED.
func TestASLRunStopsOnSignal(t *testing.T) {
	def := aslWriteDefinition(t, `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`)
	for name, sig := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, "asl", "run", "--definition", def)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			time.Sleep(500 * time.Millisecond) // well into the Wait
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("asl run still running 5 s after %s", name)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 130 {
				t.Errorf("exit: got %v, want code 130 (stderr %q)", err, stderr.String())
			}
			var got map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got["status"] != "ABORTED" {
				t.Errorf("stdout: got %q, want one JSON object with status ABORTED", stdout.String())
			}
		})
	}
}
