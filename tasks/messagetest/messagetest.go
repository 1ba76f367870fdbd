// Package messagetest checks rendered admin notifications for forged lines, the property every
// channel's rendering must keep whatever a reporter typed: used by the tests and fuzz targets
// of tasks, the webhook and the API. It parses a body on its own terms rather than rebuilding
// it with NewMessage, so a rendering bug cannot hide behind the same bug in the check.
package messagetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/sns"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/webhook"
	"github.com/incidentmanager/incidents/tasks"
)

// Channels renders t with cfg for every channel (the body and subject every channel gets,
// the SNS subject, the webhook payload) and returns every problem found: a forged line, a
// one-line field that is not one line, Slack text that is not escaped or not plain, a block
// over Slack's limits. Nil means all is well.
func Channels(t *ticket.Ticket, cfg ticket.Config) []string {
	m := tasks.NewMessage(t, cfg)
	link := ""
	if cfg.SiteURL != "" {
		link = ticket.OneLine(strings.TrimRight(cfg.SiteURL, "/") + "/#/admin/ticket/" + t.ID)
	}
	var problems []string
	add := func(where string, ps []string) {
		for _, p := range ps {
			problems = append(problems, where+": "+p)
		}
	}
	add("body", Forged(m.Body, t, link))
	add("subject", OneLine(m.Subject))
	if s := sns.Subject(m.Subject); len(s) >= 100 {
		problems = append(problems, fmt.Sprintf("SNS subject: %d bytes, SNS takes fewer than 100", len(s)))
	} else {
		add("SNS subject", OneLine(s))
	}
	p := webhook.NewPayload(m)
	add("webhook text", OneLine(p.Text))
	if strings.ContainsAny(p.Text, "<>") || p.Mrkdwn {
		problems = append(problems, fmt.Sprintf("webhook text %q is not Slack-escaped with mrkdwn off", p.Text))
	}
	if len(p.Blocks) > 50 {
		problems = append(problems, fmt.Sprintf("webhook: %d blocks, Slack takes 50", len(p.Blocks)))
	}
	var sections []string
	for i, b := range p.Blocks {
		if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Emoji {
			problems = append(problems, fmt.Sprintf("webhook block %d is not plain_text without emoji codes: %+v", i, b))
			continue
		}
		limit := 3000
		if i == 0 {
			limit = 150
			if b.Type != "header" {
				problems = append(problems, fmt.Sprintf("webhook block 0 is a %s, want the header", b.Type))
			}
			add("webhook header", OneLine(b.Text.Text))
		} else {
			sections = append(sections, b.Text.Text)
		}
		if n := len([]rune(b.Text.Text)); n > limit || n == 0 {
			problems = append(problems, fmt.Sprintf("webhook block %d holds %d characters, Slack takes 1 to %d", i, n, limit))
		}
	}
	// Each section starts a new line where Slack shows it: together they must read as a body
	// without forged lines too.
	add("webhook sections", Forged(strings.Join(sections, "\n")+"\n", t, link))
	return problems
}

// Forged returns the problems of body as the rendering of t with link (empty: none): a line
// that is not one of the labelled lines in their order, the description heading or a quoted
// line; a system line with another value than the system's; a character that some renderer
// starts a new line at, or another control character.
func Forged(body string, t *ticket.Ticket, link string) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	for _, c := range body {
		switch {
		case c == '\n' || c == '\t':
		case c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\u2028' || c == '\u2029':
			bad("the body holds %U, which can start a line or control a terminal", c)
		case c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069:
			bad("the body holds the direction override %U", c)
		}
	}
	type want struct {
		label string
		value string // "" = the reporter's text, anything on one line
	}
	header := []want{{tasks.LabelTitle, ""}, {tasks.LabelSeverity, ""}}
	if t.Category != "" {
		header = append(header, want{tasks.LabelCategory, ""})
	}
	header = append(header, want{tasks.LabelReporter, ""}, want{tasks.LabelEmail, ""},
		want{tasks.LabelTicket, t.ID}, want{tasks.LabelFiled, t.CreatedAt.Format(time.RFC3339)})
	if link != "" {
		header = append(header, want{tasks.LabelLink, link})
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for i, w := range header {
		if i >= len(lines) {
			bad("the body ends before its %q line", w.label)
			return problems
		}
		v, ok := strings.CutPrefix(lines[i], w.label)
		switch {
		case !ok:
			bad("line %d is %q, want the %q line", i+1, lines[i], w.label)
		case w.value != "" && v != w.value:
			bad("line %d is %q, want %q%s", i+1, lines[i], w.label, w.value)
		}
	}
	rest := lines[min(len(header), len(lines)):]
	if len(rest) == 0 {
		return problems
	}
	if len(rest) < 2 || rest[0] != "" || rest[1] != tasks.DescriptionLabel {
		bad("after the labelled lines comes %q, want an empty line and %q", rest, tasks.DescriptionLabel)
		return problems
	}
	for i, l := range rest[2:] {
		if l != strings.TrimSpace(tasks.QuotePrefix) && !strings.HasPrefix(l, tasks.QuotePrefix) {
			bad("description line %d %q is not quoted", i+1, l)
		}
	}
	return problems
}

// OneLine returns the problems of s as a one-line field (a subject, a header): any character
// that some renderer starts a new line at, or another control character.
func OneLine(s string) []string {
	var problems []string
	for _, c := range s {
		if c < 0x20 || c >= 0x7f && c <= 0x9f || c == '\u2028' || c == '\u2029' {
			problems = append(problems, fmt.Sprintf("%q holds %U, which can start a line", s, c))
		}
	}
	return problems
}
