package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks/messagetest"
)

// body builds a POST /ticket body from valid() with one member replaced by raw JSON text.
func body(member, raw string) string {
	fields := map[string]string{
		"title": `"VPN down"`, "description": `"Cannot connect since 9:00"`, "severity": `"high"`,
		"category": `"network"`, "name": `"Ada"`, "email": `"ada@example.com"`,
	}
	fields[member] = raw
	return `{"title":` + fields["title"] + `,"description":` + fields["description"] + `,"severity":` + fields["severity"] +
		`,"category":` + fields["category"] + `,"reporter":{"name":` + fields["name"] + `,"email":` + fields["email"] + `}}`
}

// q quotes s as a JSON string the way a client would send it.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type hostileCase struct {
	name        string
	contentType string // "" = application/json
	body        string
	header      map[string]string
	status      int
	field       string // the field the problem must name ("" = none required)
}

// hostileBodies are attacks on POST /ticket: the ones found from outside (issue 8) and more.
// Every one must be refused with its documented 4xx problem and store nothing.
var hostileBodies = []hostileCase{
	// From the issue: forged lines, control characters, invisible text, duplicate keys,
	// invalid UTF-8.
	{name: "IssueTitleNewlineForgesLink", body: body("title", q("VPN down\nLink: https://evil.example/reset")), status: 400, field: "title"},
	{name: "IssueNameNewlineForgesTicket", body: body("name", q("Ada\nTicket: 00000000-0000-7000-8000-000000000000")), status: 400, field: "reporter.name"},
	{name: "IssueTitleANSIEscape", body: body("title", q("\x1b[31mURGENT\x1b[0m")), status: 400, field: "title"},
	{name: "IssueDescriptionControlChar", body: body("description", q("ok\x07bell")), status: 400, field: "description"},
	{name: "IssueTitleZeroWidthSpaces", body: body("title", q("\u200b\u200b\u200b")), status: 400, field: "title"},
	{name: "IssueTitleBOM", body: body("title", q("\ufeff")), status: 400, field: "title"},
	{name: "IssueTitleUFFFF", body: body("title", q("\uffff")), status: 400, field: "title"},
	{name: "IssueEmailZeroWidthSpace", body: body("email", q("ada\u200b@example.com")), status: 400, field: "reporter.email"},
	{name: "IssueDuplicateKey", body: `{"title":"x","title":"VPN down","reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "title"},
	{name: "IssueInvalidUTF8", body: body("title", "\"VPN \xff down\""), status: 400},

	// JSON structure.
	{name: "DuplicateNestedEmail", body: `{"title":"x","reporter":{"name":"A","email":"a@b.co","email":"evil@x.io"}}`, status: 400, field: "reporter.email"},
	{name: "DuplicateByEscape", body: `{"title":"x","\u0074itle":"y","reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "title"},
	{name: "DuplicateReporter", body: `{"title":"x","reporter":{"name":"A","email":"a@b.co"},"reporter":{"name":"B","email":"b@b.co"}}`, status: 400, field: "reporter"},
	{name: "OverlongUTF8", body: body("title", "\"\xc0\xaf\""), status: 400},
	{name: "EncodedSurrogate", body: body("title", "\"\xed\xa0\x80\""), status: 400},
	{name: "LoneSurrogateEscape", body: body("title", `"\ud800"`), status: 400, field: "title"},
	{name: "EscapedNUL", body: body("title", `"a\u0000b"`), status: 400, field: "title"},
	{name: "RawNULInString", body: body("title", "\"a\x00b\""), status: 400, field: "title"},
	{name: "RawNewlineInString", body: body("title", "\"a\nb\""), status: 400, field: "title"},
	{name: "UnknownAdminFlag", body: `{"title":"x","admin":true,"reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "admin"},
	{name: "UnknownNestedRole", body: `{"title":"x","reporter":{"name":"A","email":"a@b.co","role":"admin"}}`, status: 400, field: "reporter.role"},
	{name: "CaseVariantKey", body: `{"Title":"x","reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "Title"},
	{name: "SetNotification", body: `{"title":"x","notification":{"status":"SENT"},"reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "notification"},
	{name: "SetStatus", body: `{"title":"x","status":"resolved","reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "status"},
	{name: "SetID", body: `{"id":"0193a6f0-0000-7000-8000-000000000001","title":"x","reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "id"},
	{name: "SetVersion", body: `{"title":"x","version":99,"reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "version"},
	{name: "ProtoPollution", body: `{"title":"x","__proto__":{"admin":true},"reporter":{"name":"A","email":"a@b.co"}}`, status: 400, field: "__proto__"},
	{name: "TitleNumber", body: body("title", `5`), status: 400, field: "title"},
	{name: "TitleArray", body: body("title", `["VPN","down"]`), status: 400, field: "title"},
	{name: "TitleObject", body: body("title", `{"$ne":""}`), status: 400, field: "title"},
	{name: "TitleBool", body: body("title", `true`), status: 400, field: "title"},
	{name: "ReporterString", body: `{"title":"x","reporter":"Ada <a@b.co>"}`, status: 400, field: "reporter"},
	{name: "SeverityNumber", body: body("severity", `1`), status: 400, field: "severity"},
	{name: "TrailingObject", body: valid + `{}`, status: 400},
	{name: "TrailingGarbage", body: valid + ` x`, status: 400},
	{name: "TrailingNull", body: valid + `null`, status: 400},
	{name: "TopLevelArray", body: `[` + valid + `]`, status: 400},
	{name: "TopLevelString", body: q(valid), status: 400},
	{name: "TopLevelNull", body: `null`, status: 400},
	{name: "EmptyBody", body: ``, status: 400},
	{name: "WhiteSpaceBody", body: " \n\t ", status: 400},
	{name: "ByteOrderMarkBeforeBody", body: "\ufeff" + valid, status: 400},
	{name: "DeepNesting", body: `{"title":"x","x":` + strings.Repeat("[", 50) + strings.Repeat("]", 50) + `}`, status: 400, field: "x.0.0.0.0.0.0.0"},
	{name: "VeryDeepNesting", body: strings.Repeat(`{"a":`, 5000) + `1` + strings.Repeat(`}`, 5000), status: 400},
	{name: "HugeNumber", body: body("severity", "1"+strings.Repeat("0", 400)), status: 400, field: "severity"},
	{name: "HugeExponent", body: body("severity", "1e999999"), status: 400, field: "severity"},
	{name: "NaN", body: body("severity", "NaN"), status: 400, field: "severity"},
	{name: "Comment", body: `{"title":"x" /* hi */,"reporter":{"name":"A","email":"a@b.co"}}`, status: 400},
	{name: "SingleQuotes", body: `{'title':'x'}`, status: 400},
	{name: "TrailingComma", body: `{"title":"x","reporter":{"name":"A","email":"a@b.co"},}`, status: 400},
	{name: "Truncated", body: valid[:len(valid)/2], status: 400},
	{name: "UTF16Body", contentType: "application/json; charset=utf-16", body: "\xff\xfe{\x00}\x00", status: 400},

	// The text policy, field by field.
	{name: "TitleCRLFForgesTicket", body: body("title", q("x\r\nTicket: forged")), status: 400, field: "title"},
	{name: "TitleCRForgesSeverity", body: body("title", q("x\rSeverity: low")), status: 400, field: "title"},
	{name: "TitleLineSeparator", body: body("title", q("x\u2028Link: https://evil.example/")), status: 400, field: "title"},
	{name: "TitleParagraphSeparator", body: body("title", q("x\u2029Link: https://evil.example/")), status: 400, field: "title"},
	{name: "TitleNEL", body: body("title", q("x\u0085Link: https://evil.example/")), status: 400, field: "title"},
	{name: "TitleTab", body: body("title", q("x\ty")), status: 400, field: "title"},
	{name: "TitleVerticalTab", body: body("title", q("x\vy")), status: 400, field: "title"},
	{name: "TitleDEL", body: body("title", q("x\x7fy")), status: 400, field: "title"},
	{name: "TitleC1CSI", body: body("title", q("x\u009b31my")), status: 400, field: "title"},
	{name: "TitleBidiOverride", body: body("title", q("invoice\u202egpj.exe")), status: 400, field: "title"},
	{name: "TitleTagSmuggling", body: body("title", q("hello\U000e0069\U000e0067\U000e006e")), status: 400, field: "title"},
	{name: "TitleZalgo", body: body("title", q("x"+strings.Repeat("\u0336", 20))), status: 400, field: "title"},
	{name: "TitleHangulFiller", body: body("title", q("\u3164")), status: 400, field: "title"},
	{name: "TitleBrailleBlank", body: body("title", q("\u2800\u2800")), status: 400, field: "title"},
	{name: "TitleNoncharacterFDD0", body: body("title", q("x\ufdd0")), status: 400, field: "title"},
	{name: "TitlePrivateUseOnly", body: body("title", q("\ue000\uf8ff")), status: 400, field: "title"},
	{name: "TitleTooLong", body: body("title", q(strings.Repeat("é", 201))), status: 400, field: "title"},
	{name: "TitleTooManyBytes", body: body("title", q(strings.Repeat("x"+strings.Repeat("\u0301", 8), 80))), status: 400, field: "title"},
	{name: "DescriptionOSC8Hyperlink", body: body("description", q("see \x1b]8;;https://evil.example\x07here\x1b]8;;\x07")), status: 400, field: "description"},
	{name: "DescriptionFormFeed", body: body("description", q("a\fb")), status: 400, field: "description"},
	{name: "DescriptionNEL", body: body("description", q("a\u0085Link: evil")), status: 400, field: "description"},
	{name: "DescriptionOnlyInvisible", body: body("description", q("\u200b\u2060\ufeff")), status: 400, field: "description"},
	{name: "DescriptionTooLong", body: body("description", q(strings.Repeat("x", 10001))), status: 400, field: "description"},
	{name: "CategoryNewline", body: body("category", q("net\nLink: evil")), status: 400, field: "category"},
	{name: "CategoryInvisible", body: body("category", q("\u200d")), status: 400, field: "category"},
	{name: "CategoryTooLong", body: body("category", q(strings.Repeat("c", 65))), status: 400, field: "category"},
	{name: "NameOnlyJoiners", body: body("name", q("\u200d\u200c")), status: 400, field: "reporter.name"},
	{name: "NameIsolate", body: body("name", q("\u2067Ada")), status: 400, field: "reporter.name"},
	{name: "NameTooLong", body: body("name", q(strings.Repeat("n", 101))), status: 400, field: "reporter.name"},
	{name: "EmailBOM", body: body("email", q("ada@exam\ufeffple.com")), status: 400, field: "reporter.email"},
	{name: "EmailNoBreakSpace", body: body("email", q("ada\u00a0@example.com")), status: 400, field: "reporter.email"},
	{name: "EmailHeaderInjection", body: body("email", q("ada@example.com\r\nBcc: all@example.com")), status: 400, field: "reporter.email"},
	{name: "EmailDisplayName", body: body("email", q("Admin <ada@example.com>")), status: 400, field: "reporter.email"},
	{name: "EmailTwoAddresses", body: body("email", q("ada@example.com, evil@example.com")), status: 400, field: "reporter.email"},
	{name: "EmailNoDomain", body: body("email", q("ada@localhost")), status: 400, field: "reporter.email"},
	{name: "EmailTooLong", body: body("email", q(strings.Repeat("a", 250)+"@b.co")), status: 400, field: "reporter.email"},
	{name: "SeverityUnknown", body: body("severity", q("urgent")), status: 400, field: "severity"},
	{name: "SeverityLookalike", body: body("severity", q("hіgh")), status: 400, field: "severity"}, // Cyrillic і

	// Headers and framing.
	{name: "ContentTypeText", contentType: "text/plain", body: valid, status: 415},
	{name: "ContentTypeForm", contentType: "application/x-www-form-urlencoded", body: "title=x", status: 415},
	{name: "ContentTypeJSONPatch", contentType: "application/json-patch+json", body: valid, status: 415},
	{name: "ContentTypeMissing", contentType: "-", body: valid, status: 415},
	{name: "BodyTooLarge", body: body("description", q(strings.Repeat("x", 70_000))), status: 413},
	{name: "IdempotencyKeyTooLong", body: valid, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 129)}, status: 400, field: "Idempotency-Key"},
	{name: "IdempotencyKeyNonASCII", body: valid, header: map[string]string{"Idempotency-Key": "cl\xc3\xa9"}, status: 400, field: "Idempotency-Key"},
}

func TestHostileBodies(t *testing.T) {
	if n := len(hostileBodies); n < 60 {
		t.Fatalf("only %d hostile bodies", n)
	}
	f := newFixture(t)
	for _, tc := range hostileBodies {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			switch ct {
			case "":
				ct = "application/json"
			case "-":
				ct = ""
			}
			r := f.do(t, "POST", "/ticket", ct, tc.body, tc.header)
			checkProblem(t, r, tc.status, tc.field)
			if n := f.count(t); n != 0 {
				t.Fatalf("a hostile body stored %d tickets", n)
			}
		})
	}
	if len(f.starter.started) != 0 {
		t.Errorf("hostile bodies started %d workflows", len(f.starter.started))
	}
}

// checkProblem asserts r is a problem+json with status and, when field is set, an error for
// that field; and that no parser internals reach the client.
func checkProblem(t *testing.T, r response, status int, field string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d %s, want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != status || p.Detail == "" || p.RequestID == "" {
		t.Fatalf("problem = %s (err %v), want status, detail and requestId", r.body, err)
	}
	if field != "" {
		found := false
		for _, e := range p.Errors {
			found = found || e.Field == field && e.Message != ""
		}
		if !found {
			t.Errorf("problem errors %+v do not name %q", p.Errors, field)
		}
	}
	for _, internal := range []string{"jsontext", "json:", "go-json", "Go value", "reflect"} {
		if bytes.Contains(r.body, []byte(internal)) {
			t.Errorf("problem shows parser internals (%q): %s", internal, r.body)
		}
	}
}

// acceptedHostile are bodies that look like attacks but are legitimate text: they are stored
// as sent (NFC) and must render without a forged line on any channel.
var acceptedHostile = []struct {
	name, member, value string
}{
	{"TitleStartsWithLinkLabel", "title", "Link: https://evil.example/reset"},
	{"TitleTicketLabel", "title", "Ticket: 00000000-0000-7000-8000-000000000000"},
	{"TitleHTML", "title", "<script>alert(1)</script><img src=x onerror=alert(1)>"},
	{"TitleSlackMention", "title", "<!channel> <!here> <@U012345>"},
	{"TitleSlackLink", "title", "<https://evil.example|Reset your password>"},
	{"TitleMarkdown", "title", "[Reset your password](https://evil.example) *now* `rm -rf`"},
	{"TitleEmojiSequences", "title", "Printer 👨‍👩‍👧 🏳️‍🌈 on fire 🔥"},
	{"TitleNFD", "title", "Cafe\u0301 down"},
	{"TitleRightToLeftScript", "title", "الطابعة لا تعمل"},
	{"NameLabelLike", "name", "Severity: low"},
	{"CategoryLabelLike", "category", "Filed: 1999-01-01T00:00:00Z"},
	{"DescriptionForgedLines", "description", "ok\nLink: https://evil.example/\nTicket: forged\n\nDescription:\n> fake quote"},
	{"DescriptionCRLFAndSeparators", "description", "a\r\nLink: x\rTicket: y\u2028Filed: z\u2029Severity: low"},
	{"DescriptionTabs", "description", "col1\tcol2\n\tindented"},
	{"DescriptionLongLine", "description", strings.Repeat("y", 2995) + "Link: https://evil.example/"},
}

func TestAcceptedHostileTextRendersSafely(t *testing.T) {
	f := newFixture(t)
	cfg := ticket.Config{SubjectPrefix: "[Incident]", SiteURL: "https://help.example.com"}
	for _, tc := range acceptedHostile {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, "POST", "/ticket", "application/json", body(tc.member, q(tc.value)), nil)
			if r.status != http.StatusCreated {
				t.Fatalf("POST = %d %s, want 201", r.status, r.body)
			}
			var created ticket.Ticket
			json.Unmarshal(r.body, &created)
			stored, err := f.store.Get(context.Background(), created.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p := messagetest.Channels(stored, cfg); p != nil {
				t.Errorf("rendering of the stored ticket has problems:\n%s", strings.Join(p, "\n"))
			}
		})
	}
}

// TestReplayShowsThePublicView: the leak from the issue. Replaying POST /ticket with the same
// Idempotency-Key and no token returned the admin view (delivered channels, execution ARN,
// last error with internal addresses).
func TestReplayShowsThePublicView(t *testing.T) {
	f := newFixture(t)
	key := map[string]string{"Idempotency-Key": "5f0c1f5e-8a4b-4a57-9f7e-2b7d7c1d9e01"}
	first := f.do(t, "POST", "/ticket", "application/json", valid, key)
	var tk ticket.Ticket
	json.Unmarshal(first.body, &tk)
	if _, err := f.store.Update(context.Background(), tk.ID, func(x *ticket.Ticket) error {
		exec := "arn:aws:states:eu-west-1:123456789012:express:notify:x:y"
		x.BeginDelivery(exec, []string{"webhook:hooks.slack.com#SECRETDIGEST"}, true, time.Now())
		return x.EndAttempt(exec, []ticket.ChannelOutcome{{Channel: "webhook:hooks.slack.com#SECRETDIGEST", Error: "dial tcp 10.0.3.7:443: connection refused", Permanent: true}}, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"Anonymous", key},
		{"WrongToken", map[string]string{"Idempotency-Key": key["Idempotency-Key"], "Authorization": "Bearer nope"}},
	} {
		r := f.do(t, "POST", "/ticket", "application/json", valid, tc.hdr)
		if r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("%s replay = %d %s, want a 201 replay", tc.name, r.status, r.body)
		}
		for _, leak := range []string{"SECRETDIGEST", "123456789012", "10.0.3.7", "hooks.slack.com"} {
			if bytes.Contains(r.body, []byte(leak)) {
				t.Errorf("%s replay shows %q: %s", tc.name, leak, r.body)
			}
		}
		if !strings.Contains(r.header.Get("Vary"), "Authorization") {
			t.Errorf("%s replay Vary = %q, want Authorization", tc.name, r.header.Get("Vary"))
		}
	}
	hdr := admin()
	hdr["Idempotency-Key"] = key["Idempotency-Key"]
	if r := f.do(t, "POST", "/ticket", "application/json", valid, hdr); !bytes.Contains(r.body, []byte("SECRETDIGEST")) {
		t.Errorf("an admin's replay lacks the delivery details: %s", r.body)
	}
	// The first answer to an anonymous reporter is the public view as well.
	fresh := f.do(t, "POST", "/ticket", "application/json", strings.Replace(valid, "VPN", "DNS", 1), nil)
	var created ticket.Ticket
	json.Unmarshal(fresh.body, &created)
	stored, _ := f.store.Get(context.Background(), created.ID)
	want, _ := json.Marshal(stored.Public())
	if fresh.status != 201 || strings.TrimSpace(string(fresh.body)) != string(want) || !strings.Contains(fresh.header.Get("Vary"), "Authorization") {
		t.Errorf("anonymous create = %d %s (Vary %q), want 201 with the public view", fresh.status, fresh.body, fresh.header.Get("Vary"))
	}
}

func TestIdempotencyKeyReusedIs422(t *testing.T) {
	f := newFixture(t)
	key := map[string]string{"Idempotency-Key": "k-1"}
	nfc := strings.Replace(valid, "VPN down", "Café down", 1)
	if r := f.do(t, "POST", "/ticket", "application/json", nfc, key); r.status != 201 {
		t.Fatalf("first POST = %d", r.status)
	}
	r := f.do(t, "POST", "/ticket", "application/json", strings.Replace(valid, "VPN", "DNS", 1), key)
	checkProblem(t, r, http.StatusUnprocessableEntity, "")
	// The same text in another Unicode form is the same request: NFC before hashing.
	nfd := strings.Replace(valid, "VPN down", "Cafe\u0301 down", 1)
	if r := f.do(t, "POST", "/ticket", "application/json", nfd, key); r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("same body in NFD = %d, want a 201 replay", r.status)
	}
	if n := f.count(t); n != 1 {
		t.Errorf("%d tickets stored, want 1", n)
	}
}

func TestIfMatch(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	path := "/ticket/" + tk.ID
	// Bring the ticket to version 5, as in the issue; V stands for the current version in the
	// cases below, P for the one before, N for the next.
	for _, st := range []string{"acknowledged", "resolved", "open", "acknowledged"} {
		if r := f.do(t, "PATCH", path, "application/json", `{"status":"`+st+`"}`, admin()); r.status != 200 {
			t.Fatalf("PATCH %s = %d %s", st, r.status, r.body)
		}
	}
	for _, tc := range []struct {
		ifMatch string
		status  int
	}{
		{`"V`, 400},            // unterminated
		{`V`, 400},             // unquoted
		{`"V"x`, 400},          // junk after the tag
		{`"V "`, 400},          // space is not an etagc
		{`*, "V"`, 400},        // * stands alone
		{`W/ "V"`, 400},        // no space after W/
		{`"000V"`, 412},        // exact text only
		{`"+V"`, 412},          //
		{`"V.0"`, 412},         //
		{`W/"V"`, 412},         // weak tags never match a write
		{`"P"`, 412},           // stale
		{`"P", "N"`, 412},      // none of the list
		{`"P", "V"`, 200},      // one of the list
		{`"N" , ,"V"`, 200},    // empty list elements are allowed
		{`*`, 200},             // any current version
		{` "V" `, 200},         // optional white space around
		{`"V"`, 200},           //
		{`"P", W/"V"`, 412},    // the weak one does not count
		{`"V",`, 200},          // trailing empty element
		{`"`, 400},             //
		{`""`, 412},            // an empty opaque tag is valid and matches nothing
		{`"V""V"`, 400},        // no comma between tags
		{"\"V\"\t,\"6\"", 200}, // tab is white space
	} {
		t.Run(tc.ifMatch, func(t *testing.T) {
			// Every 200 moves the ticket on a version; bring the tag along.
			cur, _ := f.store.Get(context.Background(), tk.ID)
			tag := strings.NewReplacer("V", itoa(cur.Version), "P", itoa(cur.Version-1), "N", itoa(cur.Version+1)).Replace(tc.ifMatch)
			next := "resolved"
			if cur.Status == ticket.StatusResolved {
				next = "open"
			}
			hdr := admin()
			hdr["If-Match"] = tag
			r := f.do(t, "PATCH", path, "application/json", `{"status":"`+next+`"}`, hdr)
			if r.status != tc.status {
				t.Fatalf("If-Match %s = %d %s, want %d", tag, r.status, r.body, tc.status)
			}
			if tc.status != 200 {
				checkProblem(t, r, tc.status, map[int]string{400: "If-Match", 412: ""}[tc.status])
				after, _ := f.store.Get(context.Background(), tk.ID)
				if after.Version != cur.Version {
					t.Errorf("a refused precondition changed the ticket")
				}
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		header string
		status int
	}{
		{"Bearer " + token, 200},
		{"bearer " + token, 200},
		{"BEARER " + token, 200},
		{"bEaReR " + token, 200},
		{"Bearer   " + token, 200},
		{"Bearer " + token + " ", 200},
		{"Bearer" + token, 401},
		{"Bearer " + token + "x", 401},
		{"Bearer " + token + " extra", 401},
		{"Basic " + token, 401},
		{token, 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{"Beare " + token, 401},
	} {
		r := f.do(t, "GET", "/admin/stats", "", "", map[string]string{"Authorization": tc.header})
		if r.status != tc.status {
			t.Errorf("Authorization %q = %d, want %d", tc.header, r.status, tc.status)
		}
	}
}

// TestPatchHostileBodies: PATCH goes through the same decoder.
func TestPatchHostileBodies(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/ticket", "application/json", valid, nil)
	var tk ticket.Ticket
	json.Unmarshal(r.body, &tk)
	for _, tc := range []struct {
		name, body string
		field      string
	}{
		{"DuplicateStatus", `{"status":"acknowledged","status":"resolved"}`, "status"},
		{"UnknownField", `{"status":"resolved","title":"pwned"}`, "title"},
		{"WrongType", `{"status":1}`, "status"},
		{"InvalidUTF8", "{\"status\":\"resolved\xff\"}", ""},
		{"Trailing", `{"status":"resolved"}{"status":"open"}`, ""},
		{"Array", `[{"status":"resolved"}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, "PATCH", "/ticket/"+tk.ID, "application/json", tc.body, admin())
			checkProblem(t, r, 400, tc.field)
		})
	}
	got, _ := f.store.Get(context.Background(), tk.ID)
	if got.Status != ticket.StatusOpen || got.Version != 1 {
		t.Errorf("hostile PATCH bodies changed the ticket: %s v%d", got.Status, got.Version)
	}
}
