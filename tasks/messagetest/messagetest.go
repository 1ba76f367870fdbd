// Package messagetest checks rendered admin notifications for forged lines, the property every
// channel's rendering must keep whatever a reporter typed: used by the tests and fuzz targets
// of tasks, the webhook and the API. It parses a body on its own terms rather than rebuilding
// it with NewMessage, so a rendering bug cannot hide behind the same bug in the check.
package messagetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks"
)

// SystemLabels start the lines whose values the system writes: a reporter forging one of
// them (a fake "Link:" to a phishing page, a fake "Ticket:") is what this package catches.
var SystemLabels = []string{tasks.LabelTicket, tasks.LabelFiled, tasks.LabelLink}

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
