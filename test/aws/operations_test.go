package aws_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// props returns a resource's properties from the raw tree.
func (tp template) props(name string) map[string]any {
	p, _ := tp.resources()[name]["Properties"].(map[string]any)
	return p
}

// TestTemplateOperations: what running the stack needs beyond serving requests: the table
// outlives the stack, every log group keeps LogRetentionDays, the API writes access logs, and
// alarms reach a topic CloudWatch can publish to.
func TestTemplateOperations(t *testing.T) {
	tp := loadTemplate(t)
	res := tp.resources()

	tbl := res["TicketsTable"]
	if tbl["DeletionPolicy"] != "Retain" || tbl["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("TicketsTable DeletionPolicy %v UpdateReplacePolicy %v, want Retain and Retain: the tickets outlive the stack", tbl["DeletionPolicy"], tbl["UpdateReplacePolicy"])
	}
	odt := decode(tp.props("TicketsTable")["OnDemandThroughput"])
	if !strings.Contains(odt, `"MaxReadRequestUnits":{"Ref":"TableMaxReadUnits"}`) || !strings.Contains(odt, `"MaxWriteRequestUnits":{"Ref":"TableMaxWriteUnits"}`) {
		t.Errorf("TicketsTable OnDemandThroughput %s, want both ceilings from the parameters", odt)
	}

	groups := 0
	for name, r := range res {
		if r["Type"] != "AWS::Logs::LogGroup" {
			continue
		}
		groups++
		if got := decode(tp.props(name)["RetentionInDays"]); got != `{"Ref":"LogRetentionDays"}` {
			t.Errorf("log group %s RetentionInDays %s, want the LogRetentionDays parameter", name, got)
		}
	}
	// 12 functions, the API's access log, the workflow's, and SNS's two delivery status groups.
	if groups != 16 {
		t.Errorf("%d log groups, want 16", groups)
	}

	als, _ := tp.props("HttpApi")["AccessLogSettings"].(map[string]any)
	if dest := decode(als["DestinationArn"]); !strings.Contains(dest, "log-group:${ApiAccessLogs}") {
		t.Errorf("HttpApi AccessLogSettings.DestinationArn = %s, want the ApiAccessLogs group", dest)
	}
	format, _ := als["Format"].(string)
	for _, want := range []string{"$context.requestId", "$context.routeKey", "$context.status"} {
		if !strings.Contains(format, want) {
			t.Errorf("access log format lacks %s: %s", want, format)
		}
	}
	if strings.Contains(format, "$context.path") {
		t.Errorf("access log format logs the path, which holds ticket IDs (the reporters' capability): %s", format)
	}

	stats := decode(tp.props("AdminFunction")["Events"].(map[string]any)["Stats"])
	if !strings.Contains(stats, `"ThrottlingRateLimit"`) {
		t.Errorf("GET /admin/stats (a whole-table Scan) has no throttle of its own: %s", stats)
	}

	if decode(tp.props("AlarmTopic")["KmsMasterKeyId"]) == `"alias/aws/sns"` {
		t.Error("AlarmTopic uses the AWS managed key, to which CloudWatch cannot publish")
	}
	alarms := map[string]string{}
	for name, r := range res {
		if r["Type"] == "AWS::CloudWatch::Alarm" {
			alarms[name] = decode(r["Properties"])
			if r["Condition"] != "CreateAlarms" {
				t.Errorf("alarm %s condition %v, want CreateAlarms (the Alarms parameter)", name, r["Condition"])
			}
			if !strings.Contains(alarms[name], `"AlarmActions":[{"Ref":"AlarmTopic"}]`) {
				t.Errorf("alarm %s does not notify the AlarmTopic: %s", name, alarms[name])
			}
		}
	}
	if !strings.Contains(alarms["WorkflowFailuresAlarm"], `"MetricName":"ExecutionsFailed"`) || !strings.Contains(alarms["WorkflowFailuresAlarm"], `{"Ref":"NotifyStateMachine"}`) {
		t.Errorf("no alarm on the workflow's ExecutionsFailed: %s", alarms["WorkflowFailuresAlarm"])
	}
	if a := alarms["ApiServerErrorsAlarm"]; !strings.Contains(a, `"MetricName":"5xx"`) || !strings.Contains(a, `{"Ref":"HttpApi"}`) {
		t.Errorf("no alarm on the API's 5xx: %s", a)
	}
	// An alarm takes at most 10 metrics: the intake functions have alarms of their own.
	for alarm, metric := range map[string]string{"FunctionErrorsAlarm": "Errors", "FunctionThrottlesAlarm": "Throttles"} {
		intakeAlarm := "Intake" + metric + "Alarm"
		a := alarms[alarm] + alarms[intakeAlarm]
		for _, one := range []string{alarm, intakeAlarm} {
			if n := strings.Count(alarms[one], `"MetricStat"`); n == 0 || n > 9 {
				t.Errorf("%s has %d metrics, want 1..9 (10 with its expression)", one, n)
			}
		}
		if !strings.Contains(a, `"MetricName":"`+metric+`"`) {
			t.Errorf("%s is not on Lambda %s: %s", alarm, metric, a)
		}
		for fn := range functions {
			if !strings.Contains(a, `{"Ref":"`+fn+`"}`) {
				t.Errorf("%s leaves out %s", alarm, fn)
			}
		}
	}
}

// TestTemplateDeliveryStatus: SENT on AWS means SNS accepted the message; SNS logs what became
// of each delivery to HTTP/S, SQS and Lambda subscribers into log groups of the stack, and the
// outputs say how to check that anyone is subscribed at all.
func TestTemplateDeliveryStatus(t *testing.T) {
	tp := loadTemplate(t)
	topic := tp.props("AdminTopic")
	name := decode(topic["TopicName"])
	m := regexp.MustCompile(`^\{"Fn::Sub":"(.+)"\}$`).FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("AdminTopic TopicName = %s, want a fixed !Sub name (the delivery log groups are named after it)", name)
	}
	var protocols []string
	for _, d := range topic["DeliveryStatusLogging"].([]any) {
		d := d.(map[string]any)
		protocols = append(protocols, fmt.Sprint(d["Protocol"]))
		for _, k := range []string{"SuccessFeedbackRoleArn", "FailureFeedbackRoleArn"} {
			if got := decode(d[k]); got != `{"Fn::GetAtt":["TopicDeliveryStatusRole","Arn"]}` {
				t.Errorf("%s %s = %s, want TopicDeliveryStatusRole", d["Protocol"], k, got)
			}
		}
	}
	if !slices.Contains(protocols, "http/s") {
		t.Errorf("delivery status logging for %v, want http/s among them", protocols)
	}
	for group, suffix := range map[string]string{"TopicDeliveryLogs": "", "TopicDeliveryFailureLogs": "/Failure"} {
		want := `{"Fn::Sub":"sns/${AWS::Region}/${AWS::AccountId}/` + m[1] + suffix + `"}`
		if got := decode(tp.props(group)["LogGroupName"]); got != want {
			t.Errorf("%s LogGroupName = %s, want %s (the name SNS writes to)", group, got, want)
		}
	}
	role := tp.props("TopicDeliveryStatusRole")
	if trust := decode(role["AssumeRolePolicyDocument"]); !strings.Contains(trust, `"Service":"sns.amazonaws.com"`) {
		t.Errorf("TopicDeliveryStatusRole trusts %s, want sns.amazonaws.com", trust)
	}
	for _, st := range statements(role["Policies"]) {
		for _, r := range st.resources {
			if !strings.Contains(r, "TopicDelivery") {
				t.Errorf("TopicDeliveryStatusRole may write to %s, beyond the topic's two log groups", r)
			}
		}
	}
	outputs := tp.raw["Outputs"].(map[string]any)
	if check := decode(outputs["SubscriptionCheck"]); !strings.Contains(check, "list-subscriptions-by-topic") || !strings.Contains(check, "${AdminTopic}") {
		t.Errorf("SubscriptionCheck output = %s, want the command that lists the topic's subscriptions", check)
	}
	if warn := outputs["NoSubscriptionWarning"].(map[string]any); warn["Condition"] != "NoAdminEmail" || !strings.Contains(decode(warn["Value"]), "aws sns subscribe") {
		t.Errorf("NoSubscriptionWarning output = %v, want it under NoAdminEmail with the subscribe command", warn)
	}
}

// TestTemplateCustomDomain: an optional DomainName with its CertificateArn becomes the
// distribution's alias, the CORS origin and the link in notifications; one without the other
// is refused by a rule before anything is created. The headers policy's name (unique per
// account) carries the region.
func TestTemplateCustomDomain(t *testing.T) {
	tp := loadTemplate(t)
	params := tp.raw["Parameters"].(map[string]any)
	for _, p := range []string{"DomainName", "CertificateArn"} {
		if params[p] == nil || params[p].(map[string]any)["Default"] != "" {
			t.Errorf("parameter %s = %v, want an optional one (default empty)", p, params[p])
		}
	}
	if cond := decode(tp.raw["Conditions"].(map[string]any)["HasDomain"]); !strings.Contains(cond, `{"Ref":"DomainName"}`) {
		t.Errorf("HasDomain = %s", cond)
	}
	dist := tp.props("Distribution")["DistributionConfig"].(map[string]any)
	if got := decode(dist["Aliases"]); got != `{"Fn::If":["HasDomain",[{"Ref":"DomainName"}],{"Ref":"AWS::NoValue"}]}` {
		t.Errorf("Aliases = %s, want DomainName under HasDomain", got)
	}
	if got := decode(dist["ViewerCertificate"]); !strings.Contains(got, `"AcmCertificateArn":{"Ref":"CertificateArn"}`) || !strings.Contains(got, `"SslSupportMethod":"sni-only"`) || !strings.HasPrefix(got, `{"Fn::If":["HasDomain"`) {
		t.Errorf("ViewerCertificate = %s, want the ACM certificate (SNI) under HasDomain", got)
	}
	rules := decode(tp.raw["Rules"])
	for _, want := range []string{`"DomainNeedsCertificate"`, `"CertificateNeedsDomain"`} {
		if !strings.Contains(rules, want) {
			t.Errorf("Rules lack %s: %s", want, rules)
		}
	}
	for what, v := range map[string]any{
		"CORS origin":      tp.props("HttpApi")["CorsConfiguration"].(map[string]any)["AllowOrigins"],
		"site-url setting": tp.props("ConfigSiteUrl")["Value"],
		"SiteUrl output":   tp.raw["Outputs"].(map[string]any)["SiteUrl"],
	} {
		if got := decode(v); !strings.Contains(got, "https://${DomainName}") {
			t.Errorf("%s = %s, want https://DomainName when it is set", what, got)
		}
	}
	if got := decode(tp.props("WebHeadersPolicy")["ResponseHeadersPolicyConfig"].(map[string]any)["Name"]); !strings.Contains(got, "${AWS::Region}") {
		t.Errorf("response headers policy name %s lacks the region: the same stage in a second region would collide", got)
	}
}
