package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{"Usage", []string{"run"}, 64, "", ``},
		{"UnknownSubcommand", []string{"draw"}, 64, "", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := aslCommand(tt.args, strings.NewReader(""), &stdout, &stderr)
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
