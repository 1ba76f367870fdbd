package aws_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/incidentmanager/incidents/internal/awstest"
)

// SAM CLI's parser of --parameter-overrides (CfnParameterOverridesType in samcli/cli/types.py),
// rewritten in Go with the same regular expressions: RE2 alternation is leftmost-first like
// Python's re, and none of them needs more than RE2 offers. Each shell word after the option
// is parsed alone; the first pattern that matches anywhere in " "+word wins, and every match
// of it is one Key=Value.
var (
	samKey      = `([A-Za-z0-9"']+)`
	samValue    = `("(?:\\.|[^"\\]+)*"|'(?:\\.|[^'\\]+)*'|(?:\\.|[^ "\\]+)+)`
	samPatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?:ParameterKey=` + samKey + `,ParameterValue=` + samValue + `)`),
		regexp.MustCompile(`(?:(?: )` + samKey + `=` + samValue + `)`),
	}
)

func samParseOverrides(words []string) (map[string]string, error) {
	out := map[string]string{}
	for _, w := range words {
		normalized := " " + strings.TrimSpace(w)
		i := slices.IndexFunc(samPatterns, func(p *regexp.Regexp) bool { return p.MatchString(normalized) })
		if i < 0 {
			return nil, fmt.Errorf("%s is not in valid format", w)
		}
		for _, m := range samPatterns[i].FindAllStringSubmatch(normalized, -1) {
			out[samUnquote(m[1])] = samUnquote(m[2])
		}
	}
	return out, nil
}

// samUnquote is _unquote_wrapped_quotes: drop one pair of wrapping quotes, then unescape
// "\ ", `\"` and `\'`, in that order.
func samUnquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = v[1 : len(v)-1]
	}
	v = strings.ReplaceAll(v, `\ `, " ")
	v = strings.ReplaceAll(v, `\"`, `"`)
	return strings.ReplaceAll(v, `\'`, "'")
}

func TestSAMParserAsSAMCLI(t *testing.T) {
	for _, tc := range []struct {
		name  string
		words []string
		want  map[string]string // nil: refused
	}{
		{"OK", []string{"Stage=prod", "DeletionProtection=true"}, map[string]string{"Stage": "prod", "DeletionProtection": "true"}},
		{"OneWordMany", []string{"Stage=prod DeletionProtection=true"}, map[string]string{"Stage": "prod", "DeletionProtection": "true"}},
		{"LongForm", []string{"ParameterKey=Stage,ParameterValue=prod"}, map[string]string{"Stage": "prod"}},
		{"QuotedEmpty", []string{`AdminEmail=""`}, map[string]string{"AdminEmail": ""}},
		{"QuotedSpace", []string{`SubjectPrefix="[Incident] prod"`}, map[string]string{"SubjectPrefix": "[Incident] prod"}},
		{"UnquotedSpaceIsCut", []string{`SubjectPrefix=[Incident] prod`}, map[string]string{"SubjectPrefix": "[Incident]"}},
		{"EscapedQuote", []string{`X="a\"b"`}, map[string]string{"X": `a"b`}},
		// What the previous lambda.mk produced: AdminEmail='' loses its quotes in the shell.
		{"ErrEmptyValue", []string{"AdminEmail="}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := samParseOverrides(tc.words)
			if tc.want == nil {
				if err == nil {
					t.Errorf("parsed %q into %v, want it refused as SAM CLI refuses it", tc.words, got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("parse %q = %v, %v; want %v", tc.words, got, err, tc.want)
			}
		})
	}
}

// makeDryRun is `make -n target vars...` in the repository: the commands make would run. The
// environment has no AWS_ variables (and no AWS CLI configuration) beyond those in env.
func makeDryRun(t *testing.T, target string, env []string, vars ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-n", target}, vars...)...)
	cmd.Dir = awstest.RepoRoot(t)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// shellWords runs line in bash with sam replaced by a function that prints its arguments, and
// returns them: the argv that SAM CLI would get.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `sam() { printf '%s\0' "$@"; }; `+line).Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", line, err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

// TestDeployParameterOverrides feeds the exact --parameter-overrides words of make deploy's
// `sam deploy` to SAM CLI's parser, for an empty and a filled ADMIN_EMAIL and values that need
// quoting, and checks it reads back every value as given, for parameters the template has.
func TestDeployParameterOverrides(t *testing.T) {
	params := loadTemplate(t).raw["Parameters"].(map[string]any)
	base := map[string]string{"Stage": "prod", "DeletionProtection": "true", "AdminEmail": "", "AllowedOrigin": "", "DomainName": "", "CertificateArn": "", "Alarms": "true", "WebhookUrls": "-", "SesIdentity": "", "MailFrom": "", "SupportAddress": ""}
	for _, tc := range []struct {
		name string
		vars []string
		want map[string]string
	}{
		{"EmptyAdminEmail", []string{"ADMIN_EMAIL="}, map[string]string{}},
		{"AdminEmail", []string{"ADMIN_EMAIL=oncall@example.com", "STAGE=staging"}, map[string]string{"AdminEmail": "oncall@example.com", "Stage": "staging"}},
		{"ApostropheInEmail", []string{"ADMIN_EMAIL=o'brien@example.com"}, map[string]string{"AdminEmail": "o'brien@example.com"}},
		{"WebhooksWithCommasAndQuery", []string{"WEBHOOKS=https://hooks.example.com/a?x=1&y=2,https://hooks.example.com/b"}, map[string]string{"WebhookUrls": "https://hooks.example.com/a?x=1&y=2,https://hooks.example.com/b"}},
		{"CustomDomain", []string{"DOMAIN_NAME=support.example.com", "CERTIFICATE_ARN=arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab", "ALLOWED_ORIGIN=https://support.example.com", "ALARMS=false", "DELETION_PROTECTION=false"},
			map[string]string{"DomainName": "support.example.com", "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab", "AllowedOrigin": "https://support.example.com", "Alarms": "false", "DeletionProtection": "false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := makeDryRun(t, "deploy", nil, append(tc.vars, "AWS_REGION=eu-west-1")...)
			var line string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "sam deploy ") {
					line = l
				}
			}
			if line == "" {
				t.Fatalf("make -n deploy runs no sam deploy:\n%s", out)
			}
			words := shellWords(t, line)
			i := slices.Index(words, "--parameter-overrides")
			if i < 0 {
				t.Fatalf("sam deploy %q has no --parameter-overrides", words)
			}
			// SAM CLI's OptionNargs takes the words up to the next one starting with "-".
			var overrides []string
			for _, w := range words[i+1:] {
				if strings.HasPrefix(w, "-") {
					break
				}
				overrides = append(overrides, w)
			}
			got, err := samParseOverrides(overrides)
			if err != nil {
				t.Fatalf("SAM CLI would refuse %q: %v", overrides, err)
			}
			want := maps.Clone(base)
			maps.Copy(want, tc.want)
			if !maps.Equal(got, want) {
				t.Errorf("SAM CLI reads\n %v\nwant\n %v\nfrom %q", got, want, overrides)
			}
			for k := range got {
				if params[k] == nil {
					t.Errorf("override %s is not a parameter of template.yaml", k)
				}
			}
		})
	}
}

// TestDeployRegionEverywhere: the one region reaches every command of deploy, site and
// undeploy, and every AWS CLI call in deploy/*.sh names it: SAM CLI reads AWS_DEFAULT_REGION
// and the AWS CLI AWS_REGION, so nothing is left to the environment.
func TestDeployRegionEverywhere(t *testing.T) {
	for _, target := range []string{"deploy", "site", "undeploy"} {
		out := makeDryRun(t, target, nil, "AWS_REGION=ap-southeast-2")
		n := 0
		for _, l := range strings.Split(out, "\n") {
			switch {
			case strings.Contains(l, "sam build") || strings.HasPrefix(l, "sam deploy"):
				n++
				if !strings.Contains(l, "--region ap-southeast-2") {
					t.Errorf("make %s runs %q without --region", target, l)
				}
			case strings.HasPrefix(l, "deploy/"):
				n++
				if !strings.HasSuffix(l, " ap-southeast-2") {
					t.Errorf("make %s runs %q without the region", target, l)
				}
			}
		}
		if n == 0 {
			t.Errorf("make -n %s ran no sam or deploy/ command:\n%s", target, out)
		}
	}
	if out := makeDryRun(t, "aws-region", []string{"AWS_DEFAULT_REGION=sa-east-1"}); !strings.Contains(out, "region sa-east-1") {
		t.Errorf("AWS_DEFAULT_REGION is not the fallback: %s", out)
	}
	if out := makeDryRun(t, "aws-region", []string{"AWS_REGION=eu-north-1", "AWS_DEFAULT_REGION=sa-east-1"}); !strings.Contains(out, "region eu-north-1") {
		t.Errorf("AWS_REGION does not win over AWS_DEFAULT_REGION: %s", out)
	}
	scripts, _ := filepath.Glob(filepath.Join(awstest.RepoRoot(t), "deploy", "*.sh"))
	awsCall := regexp.MustCompile(`\b(aws (ssm|sns|s3|cloudformation|cloudfront|dynamodb)|sam (delete|deploy|build)) `)
	calls := 0
	for _, path := range scripts {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// One command per logical line: continuations joined.
		for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") || !awsCall.MatchString(l) {
				continue
			}
			calls++
			if !strings.Contains(l, "--region ") {
				t.Errorf("%s: %q names no region", filepath.Base(path), strings.TrimSpace(l))
			}
		}
	}
	if calls < 10 {
		t.Errorf("found %d AWS calls in deploy/*.sh; the scan is broken", calls)
	}
}

// TestBuildsArePureGo: every build make runs (the binary, the Lambda zips, sam build) has
// CGO_ENABLED=0, and SAM's build cache, which watches only each function's folder, is off.
func TestBuildsArePureGo(t *testing.T) {
	root := awstest.RepoRoot(t)
	builds := 0
	for _, f := range []string{"Makefile", "deploy/lambda.mk"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "\t") || !(strings.Contains(l, "$(GO) build") || strings.Contains(l, "$$(GO) build") || strings.Contains(l, "sam build")) {
				continue
			}
			builds++
			if !strings.Contains(l, "CGO_ENABLED=0") {
				t.Errorf("%s: %q builds without CGO_ENABLED=0", f, strings.TrimSpace(l))
			}
		}
	}
	if builds < 3 {
		t.Errorf("found %d build commands; the scan is broken", builds)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*cached\s*=\s*true`).Match(cfg) {
		t.Error("samconfig.toml turns on SAM's build cache, which never sees changes outside a function's folder")
	}
	if !bytes.Contains(cfg, []byte("cached = false")) {
		t.Error("samconfig.toml does not say cached = false")
	}
}
