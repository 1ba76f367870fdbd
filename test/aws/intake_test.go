package aws_test

import (
	"strings"
	"testing"
)

// TestTemplateEmailAndIntake: email in is SES receipt → S3 → the mailin function, each step
// allowed to SES of this account only; reporters' email goes out through SES from the
// configured identity, one run at a time; the monitoring routes need no admin token (their
// integration keys authenticate them).
func TestTemplateEmailAndIntake(t *testing.T) {
	tp := loadTemplate(t)
	res := tp.resources()
	params := tp.raw["Parameters"].(map[string]any)
	for _, p := range []string{"SesIdentity", "MailFrom", "SupportAddress"} {
		if params[p] == nil {
			t.Errorf("no %s parameter", p)
		}
	}
	for _, name := range []string{"MailInFunction", "MailInBucket", "MailInBucketPolicy", "MailInPermission", "MailReceiptRuleSet", "MailReceiptRule"} {
		if res[name]["Condition"] != "HasSupportAddress" {
			t.Errorf("%s condition %v, want HasSupportAddress", name, res[name]["Condition"])
		}
	}
	rule := decode(tp.props("MailReceiptRule")["Rule"])
	s3, lambda := strings.Index(rule, `"S3Action"`), strings.Index(rule, `"LambdaAction"`)
	if s3 < 0 || lambda < s3 || !strings.Contains(rule, `"InvocationType":"Event"`) || !strings.Contains(rule, `"ObjectKeyPrefix":"inbound/"`) || !strings.Contains(rule, `{"Ref":"SupportAddress"}`) {
		t.Errorf("receipt rule %s: want S3 (inbound/) then the Lambda (Event), for SupportAddress", rule)
	}
	if env := decode(tp.props("MailInFunction")["Environment"]); !strings.Contains(env, `"MAIL_PREFIX":"inbound/"`) {
		t.Errorf("mailin environment %s: want the rule's prefix", env)
	}
	if deps := decode(res["MailReceiptRule"]["DependsOn"]); !strings.Contains(deps, "MailInBucketPolicy") || !strings.Contains(deps, "MailInPermission") {
		t.Errorf("the receipt rule depends on %s: SES checks both when the rule is made", deps)
	}
	policy := decode(tp.props("MailInBucketPolicy")["PolicyDocument"])
	for _, want := range []string{`"Service":"ses.amazonaws.com"`, `"s3:PutObject"`, `"AWS:SourceAccount":{"Ref":"AWS::AccountId"}`, `receipt-rule-set/incident-manager-${Stage}`} {
		if !strings.Contains(policy, want) {
			t.Errorf("bucket policy %s lacks %s", policy, want)
		}
	}
	if strings.Contains(decode(tp.props("MailInBucket")), `"ExpirationInDays"`) == false {
		t.Error("the inbound mail bucket keeps raw messages forever")
	}
	perm := decode(tp.props("MailInPermission"))
	if !strings.Contains(perm, `"Principal":"ses.amazonaws.com"`) || !strings.Contains(perm, `"SourceAccount"`) {
		t.Errorf("mailin permission %s: want SES of this account only", perm)
	}
	rm := tp.functionProps()["ReporterMailFunction"]
	if res["ReporterMailFunction"]["Condition"] != "HasMailFrom" || rm["ReservedConcurrentExecutions"] != float64(1) {
		t.Errorf("ReporterMailFunction condition %v concurrency %v, want HasMailFrom and 1", res["ReporterMailFunction"]["Condition"], rm["ReservedConcurrentExecutions"])
	}
	role := decode(tp.props("ReporterMailFunctionRole")["Policies"])
	if !strings.Contains(role, `identity/${SesIdentity}`) || !strings.Contains(role, `"ses:FromAddress":{"Ref":"MailFrom"}`) {
		t.Errorf("reporter mail may send %s: want only from MailFrom of SesIdentity", role)
	}
	if env := decode(tp.functionProps()["CreateFunction"]["Environment"]); !strings.Contains(env, `"REPORTER_MAIL":{"Fn::If":["HasMailFrom","true","false"]}`) {
		t.Errorf("create environment %s: want REPORTER_MAIL following HasMailFrom", env)
	}
	for name, ev := range tp.functionProps()["IntakeFunction"]["Events"].(map[string]any) {
		if strings.Contains(decode(ev), "Authorizer") {
			t.Errorf("intake route %s has an authorizer: monitoring tools send an integration key, not the admin token", name)
		}
	}
	if sched := decode(tp.functionProps()["HeartbeatFunction"]["Events"]); !strings.Contains(sched, "rate(1 minute)") {
		t.Errorf("heartbeats scheduled %s, want every minute", sched)
	}
}
