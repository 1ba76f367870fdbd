package aws_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/incidentmanager/incidents/internal/awstest"
)

// TestDefinitionASLValidator runs asl-validator (npm, pinned in package-lock.json) on the one
// workflow definition, ${...} substitutions included.
func TestDefinitionASLValidator(t *testing.T) {
	root := awstest.RepoRoot(t)
	cli := filepath.Join(root, "node_modules", "asl-validator", "dist", "bin", "asl-validator.js")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("asl-validator is not installed (%v): run `npm ci` at the repository root", err)
	}
	out, err := exec.Command("node", cli, "--json-path", filepath.Join(root, "statemachine", "notify.asl.json")).CombinedOutput()
	if err != nil {
		t.Fatalf("asl-validator rejects statemachine/notify.asl.json: %v\n%s", err, out)
	}
	t.Logf("asl-validator: %s", out)
}

// TestDefinitionRetriers checks what asl-validator does not: the retry fields AWS validates
// when the machine is created.
func TestDefinitionRetriers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(awstest.RepoRoot(t), "statemachine", "notify.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			Type  string
			Retry []map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(data, &def); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, st := range def.States {
		for i, r := range st.Retry {
			n++
			num := func(field string, def float64) float64 {
				raw, ok := r[field]
				if !ok {
					return def
				}
				var v float64
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Errorf("%s Retry[%d].%s = %s, want a number", name, i, field, raw)
				}
				return v
			}
			interval := num("IntervalSeconds", 1)
			if interval < 1 || interval != float64(int64(interval)) {
				t.Errorf("%s Retry[%d].IntervalSeconds = %v, want a positive integer", name, i, interval)
			}
			if br := num("BackoffRate", 2); br < 1 {
				t.Errorf("%s Retry[%d].BackoffRate = %v, want >= 1", name, i, br)
			}
			if ma := num("MaxAttempts", 3); ma < 0 || ma > 99999999 || ma != float64(int64(ma)) {
				t.Errorf("%s Retry[%d].MaxAttempts = %v, want an integer 0..99999999", name, i, ma)
			}
			if _, ok := r["MaxDelaySeconds"]; ok {
				md := num("MaxDelaySeconds", 0)
				if md < 1 || md >= 31622401 || md != float64(int64(md)) {
					t.Errorf("%s Retry[%d].MaxDelaySeconds = %v, want an integer 1..31622400", name, i, md)
				}
				if md < interval {
					t.Errorf("%s Retry[%d].MaxDelaySeconds %v is below IntervalSeconds %v", name, i, md, interval)
				}
			}
			if raw, ok := r["JitterStrategy"]; ok {
				var js string
				if json.Unmarshal(raw, &js) != nil || (js != "FULL" && js != "NONE") {
					t.Errorf("%s Retry[%d].JitterStrategy = %s, want FULL or NONE", name, i, raw)
				}
			}
			var errs []string
			if json.Unmarshal(r["ErrorEquals"], &errs) != nil || len(errs) == 0 {
				t.Errorf("%s Retry[%d].ErrorEquals = %s, want a non-empty list", name, i, r["ErrorEquals"])
			}
		}
	}
	if n == 0 {
		t.Error("no retriers found; the definition's Publish state should retry")
	}
}
