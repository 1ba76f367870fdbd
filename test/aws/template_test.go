// Package aws_test proves the AWS deployment without an AWS account: template.yaml checked
// with goformation, the workflow definition with asl-validator, every Lambda's real bootstrap
// under the Lambda Runtime Interface Emulator, and the whole AWS path end to end on the local
// stand-ins (minidyn, goaws, the local Step Functions API).
package aws_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/dynamo"
)

// template is template.yaml twice over: goformation's typed view, and the same JSON as a
// generic tree for what goformation does not model (Globals merging, LoggingConfig, policies).
type template struct {
	typed *cloudformation.Template
	raw   map[string]any
}

func loadTemplate(t *testing.T) template {
	t.Helper()
	root := awstest.RepoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	typed, err := parseTyped(data)
	if err != nil {
		t.Fatalf("goformation cannot parse template.yaml: %v", err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: cloudformation.EncoderIntrinsics})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		t.Fatal(err)
	}
	return template{typed, raw}
}

// unmodelled lists the properties that goformation v7.14.9 does not know (they are newer than
// its schema) and refuses as unknown fields. The typed view leaves them out; the tests check
// them on the raw tree instead.
var unmodelled = map[string][]string{
	"AWS::Serverless::Function": {"LoggingConfig"},
	"AWS::Serverless::HttpApi":  {"AccessLogSettings"},
	"AWS::DynamoDB::Table":      {"OnDemandThroughput"},
}

// parseTyped is goformation's ParseYAMLWithOptions(typedOptions()) minus the unmodelled
// properties.
func parseTyped(data []byte) (*cloudformation.Template, error) {
	js, err := intrinsics.ProcessYAML(data, typedOptions())
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(js, &tree); err != nil {
		return nil, err
	}
	for _, r := range tree["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if props, ok := r["Properties"].(map[string]any); ok {
			for _, p := range unmodelled[fmt.Sprint(r["Type"])] {
				delete(props, p)
			}
		}
	}
	if js, err = json.Marshal(tree); err != nil {
		return nil, err
	}
	typed := &cloudformation.Template{}
	return typed, json.Unmarshal(js, typed)
}

// typedOptions keeps every reference to a resource as goformation's encoded intrinsic (or
// !Ref and !GetAtt would vanish), but resolves parameters to their defaults and evaluates the
// conditions: goformation's typed fields (RetentionInDays int, DeletionProtectionEnabled bool)
// cannot hold an encoded !Ref or !If.
func typedOptions() *intrinsics.ProcessorOptions {
	o := map[string]intrinsics.IntrinsicHandler{}
	maps.Copy(o, cloudformation.EncoderIntrinsics)
	encodeRef := o["Ref"]
	o["Ref"] = func(name string, input, tmpl any) any {
		if input == "AWS::NoValue" {
			return nil // the property is absent
		}
		if v := intrinsics.Ref(name, input, tmpl); v != nil {
			return v // a parameter's default or a pseudo parameter
		}
		return encodeRef(name, input, tmpl)
	}
	o["Fn::Equals"], o["Fn::Not"] = intrinsics.FnEquals, intrinsics.FnNot
	o["Fn::If"] = func(_ string, input, tmpl any) any {
		arr, ok := input.([]any)
		if !ok || len(arr) != 3 {
			return nil
		}
		name, _ := arr[0].(string)
		conds, _ := tmpl.(map[string]any)["Conditions"].(map[string]any)
		if evalCondition(conds[name], tmpl) {
			return arr[1]
		}
		return arr[2]
	}
	return &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: o}
}

// evalCondition evaluates the template's conditions (Fn::Equals, Fn::Not over parameters)
// with the parameters' defaults, whether or not the processor has reached them yet.
func evalCondition(c, tmpl any) bool {
	resolve := func(x any) any {
		if m, ok := x.(map[string]any); ok && m["Ref"] != nil {
			return intrinsics.Ref("Ref", m["Ref"], tmpl)
		}
		return x
	}
	switch c := c.(type) {
	case bool:
		return c
	case map[string]any:
		if a, ok := c["Fn::Equals"].([]any); ok && len(a) == 2 {
			return fmt.Sprint(resolve(a[0])) == fmt.Sprint(resolve(a[1]))
		}
		if a, ok := c["Fn::Not"].([]any); ok && len(a) == 1 {
			return !evalCondition(a[0], tmpl)
		}
		if a, ok := c["Fn::And"].([]any); ok {
			for _, x := range a {
				if !evalCondition(x, tmpl) {
					return false
				}
			}
			return true
		}
		if a, ok := c["Fn::Or"].([]any); ok {
			for _, x := range a {
				if evalCondition(x, tmpl) {
					return true
				}
			}
			return false
		}
		if name, ok := c["Condition"].(string); ok {
			conds, _ := tmpl.(map[string]any)["Conditions"].(map[string]any)
			return evalCondition(conds[name], tmpl)
		}
	}
	return false
}

func (tp template) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	for name, r := range tp.raw["Resources"].(map[string]any) {
		out[name] = r.(map[string]any)
	}
	return out
}

// functionProps returns each function's properties with Globals.Function merged under them,
// as SAM merges them (maps merged key by key, the function's own value winning).
func (tp template) functionProps() map[string]map[string]any {
	globals, _ := tp.raw["Globals"].(map[string]any)["Function"].(map[string]any)
	out := map[string]map[string]any{}
	for name, r := range tp.resources() {
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		out[name] = merge(globals, r["Properties"].(map[string]any))
	}
	return out
}

func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// decode turns goformation-encoded intrinsics (base64 JSON strings, nested at any depth) back
// into compact JSON text; a plain string comes back as it is.
func decode(v any) string {
	v = decodeValue(v)
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeValue(v any) any {
	switch v := v.(type) {
	case *string:
		return decodeValue(aws.ToString(v))
	case string:
		if b, err := base64.StdEncoding.DecodeString(v); err == nil && len(b) > 0 && b[0] == '{' {
			var x any
			if json.Unmarshal(b, &x) == nil {
				return decodeValue(x)
			}
		}
		return v
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = decodeValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = decodeValue(x)
		}
		return out
	}
	return v
}

// The functions, the code they are built from and the routes they serve.
var functions = map[string]struct {
	codeURI string
	routes  []string
}{
	"CreateFunction": {"api/create/", []string{"POST /ticket"}},
	"GetFunction":    {"api/get/", []string{"GET /ticket/{id}"}},
	"ScanFunction":   {"api/scan/", []string{"GET /ticket"}},
	"AdminFunction": {"api/admin/", []string{"DELETE /admin/integrations/{id}", "GET /admin/integrations", "GET /admin/integrations/{id}", "GET /admin/stats", "GET /admin/tickets/{id}",
		"PATCH /admin/integrations/{id}", "PATCH /ticket/{id}", "POST /admin/integrations", "POST /admin/integrations/{id}/rotate", "POST /admin/tickets/bulk", "POST /admin/tickets/{id}/replies", "POST /admin/tickets/{id}/retry-notification"}},
	"IntakeFunction":       {"api/intake/", []string{"GET /v1/heartbeat/{key}", "POST /v1/alertmanager", "POST /v1/alertmanager/{key}", "POST /v1/heartbeat/{key}", "POST /v2/enqueue"}},
	"HeartbeatFunction":    {"intake/heartbeats/", nil},
	"MailInFunction":       {"intake/mailin/", nil},
	"ReporterMailFunction": {"tasks/reportermail/", nil},
	"AuthorizerFunction":   {"api/authorizer/", nil},
	"PublishFunction":      {"tasks/publish/", nil},
	"RecordFunction":       {"tasks/record/", nil},
	"SweepFunction":        {"tasks/sweep/", nil},
}

func TestTemplateFunctions(t *testing.T) {
	tp := loadTemplate(t)
	root := awstest.RepoRoot(t)
	typed := tp.typed.GetAllServerlessFunctionResources()
	props := tp.functionProps()
	if got, want := sortedKeys(props), sortedKeys(functions); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("functions %v, want %v", got, want)
	}
	envUse := regexp.MustCompile(`\.Require\("([A-Z_]+)"\)`)
	for name, want := range functions {
		t.Run(name, func(t *testing.T) {
			p := props[name]
			if fn, ok := typed[name]; !ok || fn.CodeUri == nil || aws.ToString(fn.CodeUri.String) != want.codeURI {
				t.Errorf("CodeUri (goformation) = %+v, want %s", typed[name].CodeUri, want.codeURI)
			}
			for _, c := range []struct{ field, got, want string }{
				{"Runtime", fmt.Sprint(p["Runtime"]), "provided.al2023"},
				{"Architectures", fmt.Sprint(p["Architectures"]), "[arm64]"},
				{"Handler", fmt.Sprint(p["Handler"]), "bootstrap"},
				{"Tracing", fmt.Sprint(p["Tracing"]), "Active"},
				{"LoggingConfig.LogFormat", fmt.Sprint(p["LoggingConfig"].(map[string]any)["LogFormat"]), "JSON"},
				{"Metadata.BuildMethod", fmt.Sprint(tp.resources()[name]["Metadata"].(map[string]any)["BuildMethod"]), "go1.x"},
			} {
				if c.got != c.want {
					t.Errorf("%s = %s, want %s", c.field, c.got, c.want)
				}
			}
			// Short, and below the Publish state's TimeoutSeconds (25 s) so that a slow attempt
			// fails as the function's own error.
			if timeout, _ := p["Timeout"].(float64); timeout <= 0 || timeout > 24 {
				t.Errorf("Timeout = %v, want a short one (1..24 s)", p["Timeout"])
			}
			main, err := os.ReadFile(filepath.Join(root, want.codeURI, "main.go"))
			if err != nil {
				t.Fatalf("CodeUri %s has no main.go: %v", want.codeURI, err)
			}
			// The environment names exactly what the main reads.
			var reads []string
			for _, m := range envUse.FindAllStringSubmatch(string(main), -1) {
				reads = append(reads, m[1])
			}
			sort.Strings(reads)
			vars := map[string]any{}
			if env, ok := p["Environment"].(map[string]any); ok {
				vars = env["Variables"].(map[string]any)
			}
			if got := sortedKeys(vars); fmt.Sprint(got) != fmt.Sprint(reads) {
				t.Errorf("Environment %v, but main.go reads %v", got, reads)
			}
			var routes []string
			events, _ := p["Events"].(map[string]any)
			for _, ev := range events {
				ev := ev.(map[string]any)
				if ev["Type"] != "HttpApi" {
					continue
				}
				ep := ev["Properties"].(map[string]any)
				routes = append(routes, fmt.Sprint(ep["Method"], " ", ep["Path"]))
				if !strings.Contains(decode(ep["ApiId"]), "HttpApi") {
					t.Errorf("route %v is not on the HttpApi", ep)
				}
			}
			sort.Strings(routes)
			if fmt.Sprint(routes) != fmt.Sprint(want.routes) {
				t.Errorf("routes %v, want %v", routes, want.routes)
			}
		})
	}
}

// TestTemplateCodeURIsBuild builds every function's CodeUri as sam build does (linux/arm64).
func TestTemplateCodeURIsBuild(t *testing.T) {
	root := awstest.RepoRoot(t)
	args := []string{"build", "-tags", "lambda.norpc", "-o", t.TempDir() + "/"}
	for _, name := range sortedKeys(functions) {
		args = append(args, "./"+strings.TrimSuffix(functions[name].codeURI, "/"))
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestTemplateStateMachine(t *testing.T) {
	tp := loadTemplate(t)
	root := awstest.RepoRoot(t)
	machines := tp.typed.GetAllServerlessStateMachineResources()
	sm, ok := machines["NotifyStateMachine"]
	if !ok || len(machines) != 1 {
		t.Fatalf("state machines %v, want NotifyStateMachine only", sortedKeys(machines))
	}
	if got := aws.ToString(sm.Type); got != "EXPRESS" {
		t.Errorf("Type = %q, want EXPRESS", got)
	}
	if sm.DefinitionUri == nil || aws.ToString(sm.DefinitionUri.String) != "statemachine/notify.asl.json" {
		t.Fatalf("DefinitionUri = %+v, want statemachine/notify.asl.json", sm.DefinitionUri)
	}
	if sm.Logging == nil || sm.Logging.Level != "ALL" || !sm.Logging.IncludeExecutionData || len(sm.Logging.Destinations) != 1 {
		t.Fatalf("Logging = %+v, want level ALL with execution data to one log group", sm.Logging)
	}
	dest := decode(sm.Logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn)
	group := regexp.MustCompile(`"Fn::GetAtt":\["(\w+)","Arn"\]`).FindStringSubmatch(dest)
	if group == nil {
		t.Fatalf("log destination %s is not a log group of the template", dest)
	}
	lg := tp.resources()[group[1]]
	if lg["Type"] != "AWS::Logs::LogGroup" || lg["Properties"].(map[string]any)["RetentionInDays"] == nil {
		t.Errorf("log group %s = %v, want an AWS::Logs::LogGroup with RetentionInDays", group[1], lg)
	}
	if sm.Tracing == nil || !aws.ToBool(sm.Tracing.Enabled) {
		t.Errorf("Tracing = %+v, want enabled", sm.Tracing)
	}
	def, err := os.ReadFile(filepath.Join(root, "statemachine", "notify.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, m := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(string(def), -1) {
		if !slices.Contains(used, m[1]) {
			used = append(used, m[1])
		}
	}
	sort.Strings(used)
	if got := sortedKeys(sm.DefinitionSubstitutions); fmt.Sprint(got) != fmt.Sprint(used) {
		t.Errorf("DefinitionSubstitutions %v, definition uses %v", got, used)
	}
	// Each substitution is a task function's ARN, and the role may invoke exactly those.
	var taskFns []string
	for k, v := range sm.DefinitionSubstitutions {
		m := regexp.MustCompile(`"Fn::GetAtt":\["(\w+)","Arn"\]`).FindStringSubmatch(decode(v))
		if m == nil || tp.resources()[m[1]]["Type"] != "AWS::Serverless::Function" {
			t.Errorf("substitution %s = %s, want !GetAtt <Function>.Arn", k, decode(v))
			continue
		}
		taskFns = append(taskFns, m[1])
	}
	role := regexp.MustCompile(`"Fn::GetAtt":\["(\w+)","Arn"\]`).FindStringSubmatch(decode(aws.ToString(sm.Role)))
	if role == nil {
		t.Fatalf("Role = %s, want the template's own role", decode(aws.ToString(sm.Role)))
	}
	roleProps := tp.resources()[role[1]]["Properties"].(map[string]any)
	if trust := decode(roleProps["AssumeRolePolicyDocument"]); !strings.Contains(trust, "states.amazonaws.com") {
		t.Errorf("role trusts %s, want states.amazonaws.com", trust)
	}
	invokes := map[string]bool{}
	for _, st := range statements(roleProps["Policies"]) {
		if st.effect != "Allow" {
			continue
		}
		for _, a := range st.actions {
			switch {
			case a == "lambda:InvokeFunction":
				for _, r := range st.resources {
					fn := regexp.MustCompile(`(\w+Function)(\.Arn|")`).FindStringSubmatch(r)
					if fn == nil || !slices.Contains(taskFns, fn[1]) {
						t.Errorf("role may invoke %s, which is not a task of the definition", r)
					}
					if fn != nil {
						invokes[fn[1]] = true
					}
				}
			case logDelivery[a], xrayWrite[a]:
			default:
				t.Errorf("state machine role allows %s; want only lambda:InvokeFunction and log delivery / tracing", a)
			}
		}
	}
	for _, fn := range taskFns {
		if !invokes[fn] {
			t.Errorf("role cannot invoke task function %s", fn)
		}
	}
}

// Actions that AWS documents as supporting only Resource "*".
var (
	logDelivery = set("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
		"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups")
	xrayWrite = set("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")
)

type statement struct {
	effect             string
	actions, resources []string
}

// statements finds every IAM policy statement anywhere under v.
func statements(v any) []statement {
	var out []statement
	switch v := v.(type) {
	case map[string]any:
		if eff, ok := v["Effect"].(string); ok && v["Action"] != nil {
			out = append(out, statement{eff, strs(v["Action"]), strs(v["Resource"])})
		}
		for _, c := range v {
			out = append(out, statements(c)...)
		}
	case []any:
		for _, c := range v {
			out = append(out, statements(c)...)
		}
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, decode(x))
		}
		return out
	default:
		return []string{decode(v)}
	}
}

func TestTemplateLeastPrivilege(t *testing.T) {
	tp := loadTemplate(t)
	n := 0
	for name, r := range tp.resources() {
		for _, st := range statements(r) {
			n++
			for _, a := range st.actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					t.Errorf("%s: statement with action %q", name, a)
				}
			}
			for _, res := range st.resources {
				if res != "*" {
					continue
				}
				for _, a := range st.actions {
					if !logDelivery[a] && !xrayWrite[a] {
						t.Errorf("%s: action %s on Resource \"*\"", name, a)
					}
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d policy statements; the walk is broken", n)
	}
	// Per function, exactly the actions it needs.
	want := map[string][]string{
		"CreateFunction":       {"dynamodb:GetItem", "dynamodb:PutItem", "states:StartExecution"},
		"GetFunction":          {"dynamodb:GetItem"},
		"ScanFunction":         {"dynamodb:Query", "ssm:GetParameter"},
		"AdminFunction":        {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem", "ssm:GetParameter", "states:StartExecution"},
		"IntakeFunction":       {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "states:StartExecution"},
		"HeartbeatFunction":    {"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", "states:StartExecution"},
		"MailInFunction":       {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "s3:GetObject", "states:StartExecution"},
		"ReporterMailFunction": {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "ses:SendEmail", "ssm:GetParametersByPath"},
		"AuthorizerFunction":   {"ssm:GetParameter"},
		"PublishFunction":      {"dynamodb:GetItem", "dynamodb:UpdateItem", "sns:Publish", "ssm:GetParametersByPath"},
		"RecordFunction":       {"dynamodb:GetItem", "dynamodb:UpdateItem"},
		"SweepFunction":        {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "states:StartExecution"},
	}
	getAtt := regexp.MustCompile(`^\{"Fn::GetAtt":\["(\w+)","Arn"\]\}$`)
	ref := regexp.MustCompile(`^\{"Ref":"(\w+)"\}$`)
	roles, groups := map[string]string{}, map[string]string{}
	for name, acts := range want {
		t.Run(name, func(t *testing.T) {
			p := tp.functionProps()[name]
			if _, ok := p["Policies"]; ok {
				t.Errorf("Policies given: SAM would add them to a role of its own with the basic-execution policy (logs on every group)")
			}
			role := getAtt.FindStringSubmatch(decode(p["Role"]))
			if role == nil || tp.resources()[role[1]]["Type"] != "AWS::IAM::Role" {
				t.Fatalf("Role = %s, want !GetAtt <a role of this template>.Arn", decode(p["Role"]))
			}
			group := ref.FindStringSubmatch(decode(p["LoggingConfig"].(map[string]any)["LogGroup"]))
			if group == nil || tp.resources()[group[1]]["Type"] != "AWS::Logs::LogGroup" || tp.resources()[group[1]]["Properties"].(map[string]any)["RetentionInDays"] == nil {
				t.Fatalf("LoggingConfig.LogGroup = %s, want !Ref <a log group of this template with retention>", decode(p["LoggingConfig"].(map[string]any)["LogGroup"]))
			}
			for other, r := range roles {
				if r == role[1] || groups[other] == group[1] {
					t.Errorf("shares its role or log group with %s", other)
				}
			}
			roles[name], groups[name] = role[1], group[1]
			rp := tp.resources()[role[1]]["Properties"].(map[string]any)
			if trust := decode(rp["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"Service":"lambda.amazonaws.com"`) || strings.Count(trust, `"Service"`) != 1 {
				t.Errorf("role %s trusts %s, want lambda.amazonaws.com alone", role[1], trust)
			}
			if rp["ManagedPolicyArns"] != nil {
				t.Errorf("role %s has managed policies %v", role[1], rp["ManagedPolicyArns"])
			}
			var got []string
			for _, st := range statements(rp["Policies"]) {
				for _, a := range st.actions {
					switch {
					case a == "logs:CreateLogStream" || a == "logs:PutLogEvents":
						if fmt.Sprint(st.resources) != fmt.Sprintf(`[{"Fn::GetAtt":["%s","Arn"]}]`, group[1]) {
							t.Errorf("%s on %v, want on its own log group %s only", a, st.resources, group[1])
						}
					case xrayWrite[a]:
					default:
						got = append(got, a)
						for _, res := range st.resources {
							if !strings.Contains(res, "TicketsTable") && !strings.Contains(res, "NotifyStateMachine") && !strings.Contains(res, "AdminTopic") && !strings.Contains(res, "parameter/incident-manager/${Stage}/") &&
								!strings.Contains(res, "MailInBucket.Arn}/inbound/*") && !strings.Contains(res, ":identity/${SesIdentity}") {
								t.Errorf("may act on %s, outside the stack's own table, machine, topic and parameters", res)
							}
						}
					}
				}
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(acts) {
				t.Errorf("actions %v, want %v", got, acts)
			}
		})
	}
	// The public function holds no secret at all.
	for _, st := range statements(tp.resources()[roles["GetFunction"]]) {
		for _, a := range st.actions {
			if strings.HasPrefix(a, "ssm:") || strings.HasPrefix(a, "kms:") {
				t.Errorf("GetFunction may %s: the public route must not reach the admin token", a)
			}
		}
	}
}

func TestTemplateDataAndDelivery(t *testing.T) {
	tp := loadTemplate(t)
	res := tp.resources()
	tbl := tp.typed.GetAllDynamoDBTableResources()["TicketsTable"]
	if tbl == nil {
		t.Fatal("no TicketsTable")
	}
	if aws.ToString(tbl.BillingMode) != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %v, want on-demand", aws.ToString(tbl.BillingMode))
	}
	if tbl.PointInTimeRecoverySpecification == nil || !aws.ToBool(tbl.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled) {
		t.Error("point-in-time recovery is off")
	}
	if tbl.SSESpecification == nil || !tbl.SSESpecification.SSEEnabled {
		t.Error("server-side encryption is off")
	}
	if dp := decode(res["TicketsTable"]["Properties"].(map[string]any)["DeletionProtectionEnabled"]); !strings.Contains(dp, "ProtectTable") {
		t.Errorf("DeletionProtectionEnabled = %s, want it from the DeletionProtection parameter", dp)
	}
	// The table is the one internal/dynamo expects.
	in := dynamo.TableInput("x")
	var keys, attrs, gsis []string
	for _, k := range tbl.KeySchema {
		keys = append(keys, k.AttributeName+" "+k.KeyType)
	}
	for _, a := range tbl.AttributeDefinitions {
		attrs = append(attrs, a.AttributeName+" "+a.AttributeType)
	}
	for _, g := range tbl.GlobalSecondaryIndexes {
		s := g.IndexName + " " + aws.ToString(g.Projection.ProjectionType)
		for _, k := range g.KeySchema {
			s += " " + k.AttributeName + ":" + k.KeyType
		}
		gsis = append(gsis, s)
	}
	var wkeys, wattrs, wgsis []string
	for _, k := range in.KeySchema {
		wkeys = append(wkeys, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	for _, a := range in.AttributeDefinitions {
		wattrs = append(wattrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	for _, g := range in.GlobalSecondaryIndexes {
		s := aws.ToString(g.IndexName) + " " + string(g.Projection.ProjectionType)
		for _, k := range g.KeySchema {
			s += " " + aws.ToString(k.AttributeName) + ":" + string(k.KeyType)
		}
		wgsis = append(wgsis, s)
	}
	for _, c := range []struct {
		what      string
		got, want []string
	}{{"KeySchema", keys, wkeys}, {"AttributeDefinitions", attrs, wattrs}, {"GlobalSecondaryIndexes", gsis, wgsis}} {
		sort.Strings(c.got)
		sort.Strings(c.want)
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("table %s %v, internal/dynamo wants %v", c.what, c.got, c.want)
		}
	}

	if res["AdminTopic"]["Type"] != "AWS::SNS::Topic" {
		t.Error("no AdminTopic SNS topic")
	}
	sub := res["AdminEmailSubscription"]
	if sub["Condition"] != "HasAdminEmail" || sub["Properties"].(map[string]any)["Protocol"] != "email" {
		t.Errorf("email subscription = %v, want protocol email under the HasAdminEmail condition", sub)
	}
	if _, ok := tp.raw["Parameters"].(map[string]any)["AdminEmail"]; !ok {
		t.Error("no AdminEmail parameter")
	}

	names := map[string]bool{}
	for _, p := range tp.typed.GetAllSSMParameterResources() {
		names[decode(p.Name)] = true
		if !strings.HasPrefix(decode(p.Name), `{"Fn::Sub":"/incident-manager/${Stage}/config/`) {
			t.Errorf("SSM parameter %s is not under /incident-manager/<stage>/config/", decode(p.Name))
		}
	}
	for _, n := range []string{"notifications-enabled", "subject-prefix", "site-url", "webhooks"} {
		if !names[`{"Fn::Sub":"/incident-manager/${Stage}/config/`+n+`"}`] {
			t.Errorf("no SSM parameter %s", n)
		}
	}
	pub := tp.functionProps()["PublishFunction"]["Environment"].(map[string]any)["Variables"].(map[string]any)
	if got := decode(pub["CONFIG_PATH"]); got != `{"Fn::Sub":"/incident-manager/${Stage}/config"}` {
		t.Errorf("CONFIG_PATH = %s, want the parameters' path", got)
	}
}

func TestTemplateAPIAndSite(t *testing.T) {
	tp := loadTemplate(t)
	res := tp.resources()
	api := res["HttpApi"]
	if api["Type"] != "AWS::Serverless::HttpApi" {
		t.Fatalf("HttpApi is %v", api["Type"])
	}
	p := api["Properties"].(map[string]any)
	cors := p["CorsConfiguration"].(map[string]any)
	origins := decode(cors["AllowOrigins"])
	if strings.Contains(origins, `"*"`) || !strings.Contains(origins, "AllowedOrigin") {
		t.Errorf("CORS origins %s, want the AllowedOrigin parameter and never *", origins)
	}
	if pat := tp.raw["Parameters"].(map[string]any)["AllowedOrigin"].(map[string]any)["AllowedPattern"]; pat == nil || !strings.Contains(fmt.Sprint(pat), "*\\s") {
		t.Errorf("AllowedOrigin pattern %v does not rule out a wildcard", pat)
	}
	drs := p["DefaultRouteSettings"].(map[string]any)
	if drs["ThrottlingRateLimit"] == nil || drs["ThrottlingBurstLimit"] == nil {
		t.Errorf("DefaultRouteSettings %v, want throttling", drs)
	}
	create := tp.typed.GetAllServerlessFunctionResources()["CreateFunction"].Events["CreateTicket"].Properties.HttpApiEvent
	if create == nil || create.RouteSettings == nil || create.RouteSettings.ThrottlingRateLimit == nil {
		t.Error("POST /ticket has no route throttling of its own")
	}

	bucket := res["WebBucket"]["Properties"].(map[string]any)
	pab := bucket["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("WebBucket %s = %v, want true", k, pab[k])
		}
	}
	dist := res["Distribution"]["Properties"].(map[string]any)["DistributionConfig"].(map[string]any)
	origin := dist["Origins"].([]any)[0].(map[string]any)
	if !strings.Contains(decode(origin["OriginAccessControlId"]), "WebOriginAccessControl") {
		t.Errorf("origin %v does not use the Origin Access Control", origin)
	}
	if res["WebOriginAccessControl"]["Type"] != "AWS::CloudFront::OriginAccessControl" {
		t.Error("no Origin Access Control")
	}
	if dist["DefaultRootObject"] != "index.html" {
		t.Errorf("DefaultRootObject = %v", dist["DefaultRootObject"])
	}
	if !strings.Contains(decode(dist["DefaultCacheBehavior"].(map[string]any)["ResponseHeadersPolicyId"]), "WebHeadersPolicy") {
		t.Errorf("the site is not served with WebHeadersPolicy")
	}
	headers := decode(res["WebHeadersPolicy"]["Properties"])
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "no-referrer", "DENY"} {
		if !strings.Contains(headers, want) {
			t.Errorf("WebHeadersPolicy lacks %q: %s", want, headers)
		}
	}
	if strings.Contains(headers, "unsafe-inline") {
		t.Errorf("WebHeadersPolicy allows inline code: %s", headers)
	}
	fallback := map[string]bool{}
	for _, e := range dist["CustomErrorResponses"].([]any) {
		e := e.(map[string]any)
		if e["ResponsePagePath"] == "/index.html" && fmt.Sprint(e["ResponseCode"]) == "200" {
			fallback[fmt.Sprint(e["ErrorCode"])] = true
		}
	}
	if !fallback["403"] || !fallback["404"] {
		t.Errorf("SPA fallback for %v, want 403 and 404 → /index.html", fallback)
	}
	policy := decode(res["WebBucketPolicy"]["Properties"].(map[string]any)["PolicyDocument"])
	if !strings.Contains(policy, "cloudfront.amazonaws.com") || !strings.Contains(policy, "AWS:SourceArn") {
		t.Errorf("bucket policy %s, want reads by this distribution only", policy)
	}

	for _, o := range []string{"ApiUrl", "SiteUrl", "StateMachineArn", "TableName", "TopicArn"} {
		if _, ok := tp.typed.Outputs[o]; !ok {
			t.Errorf("no output %s", o)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func set(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// TestTemplateAdminAuthorizer: the admin routes sit behind the Lambda authorizer, the public
// ones (filing and reading a ticket by its ID) do not.
func TestTemplateAdminAuthorizer(t *testing.T) {
	tp := loadTemplate(t)
	res := tp.resources()
	auth, _ := res["HttpApi"]["Properties"].(map[string]any)["Auth"].(map[string]any)
	authorizer, _ := auth["Authorizers"].(map[string]any)["AdminToken"].(map[string]any)
	if authorizer == nil {
		t.Fatal("HttpApi has no AdminToken authorizer")
	}
	if !strings.Contains(decode(authorizer["FunctionArn"]), "AuthorizerFunction") || authorizer["EnableSimpleResponses"] != true ||
		authorizer["EnableFunctionDefaultPermissions"] != true || fmt.Sprint(authorizer["AuthorizerPayloadFormatVersion"]) != "2.0" {
		t.Errorf("AdminToken authorizer = %v, want AuthorizerFunction, payload 2.0, simple responses, invoke permission", authorizer)
	}
	guarded := map[string]string{}
	for name := range functions {
		events, _ := res[name]["Properties"].(map[string]any)["Events"].(map[string]any)
		for _, e := range events {
			ep := e.(map[string]any)["Properties"].(map[string]any)
			route := fmt.Sprint(ep["Method"], " ", ep["Path"])
			a, _ := ep["Auth"].(map[string]any)
			guarded[route] = fmt.Sprint(a["Authorizer"])
		}
	}
	for route, want := range map[string]string{
		"GET /ticket":                                 "AdminToken",
		"PATCH /ticket/{id}":                          "AdminToken",
		"GET /admin/stats":                            "AdminToken",
		"GET /admin/tickets/{id}":                     "AdminToken",
		"POST /admin/tickets/bulk":                    "AdminToken",
		"POST /admin/tickets/{id}/retry-notification": "AdminToken",
		"POST /ticket":                                "<nil>",
		"GET /ticket/{id}":                            "<nil>",
	} {
		if got := guarded[route]; got != want {
			t.Errorf("%s authorizer = %s, want %s", route, got, want)
		}
	}
}
