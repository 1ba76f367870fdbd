package webhook

import (
	"strings"
	"unicode/utf8"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Slack's limits on what it accepts: a message with a longer header or section, or more
// blocks, is refused with a 400 (invalid_blocks), which would fail the notification for good.
const (
	maxHeader  = 150
	maxSection = 3000
	maxBlocks  = 50
)

type block struct {
	Type string `json:"type"`
	Text *text  `json:"text,omitempty"`
}

// text is a Slack text object. Only plain_text is used: Slack shows it as typed, so
// "<!channel>", "<https://evil|Reset password>", "*bold*" and ":emoji:" in user text stay
// literal characters and cannot mention, link or format.
type text struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji"`
}

// Payload is the JSON body posted: Slack's incoming-webhook format plus the raw fields for
// receivers that want them.
type Payload struct {
	// Text is the notification fallback. Slack parses it as mrkdwn, so it is escaped as Slack
	// asks (&, <, >) and formatting is switched off with Mrkdwn.
	Text     string          `json:"text"`
	Mrkdwn   bool            `json:"mrkdwn"`
	Blocks   []block         `json:"blocks"`
	TicketID string          `json:"ticketId"`
	Severity ticket.Severity `json:"severity"`
	Subject  string          `json:"subject"`
	Body     string          `json:"body"`
	Link     string          `json:"link,omitempty"`
}

// NewPayload shapes m for a Slack-compatible webhook: the subject as a plain_text header,
// the body in plain_text sections within Slack's limits. Every line of the body starts a line
// of the rendering just as it did in the body; a line too long for one section continues in
// the next after "> ", so no text from the middle of a line ever starts a line of its own.
func NewPayload(m ticket.Message) Payload {
	subject := ticket.OneLine(m.Subject)
	blocks := []block{{Type: "header", Text: plain(truncate(subject, maxHeader))}}
	for _, s := range sections(m.Body, maxSection, maxBlocks-1) {
		blocks = append(blocks, block{Type: "section", Text: plain(s)})
	}
	return Payload{
		Text:     escapeMrkdwn(subject),
		Blocks:   blocks,
		TicketID: m.TicketID,
		Severity: m.Severity,
		Subject:  m.Subject,
		Body:     m.Body,
		Link:     m.Link,
	}
}

func plain(s string) *text { return &text{Type: "plain_text", Text: s} }

// mrkdwnEscaper escapes the three characters Slack's mrkdwn gives meaning to in control
// sequences (mentions, links, dates).
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escapeMrkdwn(s string) string { return mrkdwnEscaper.Replace(s) }

// continuation starts the rest of a line that did not fit one section.
const continuation = "> "

// sections packs the lines of body into at most n texts of at most size characters each.
func sections(body string, size, n int) []string {
	var pieces []string
	for _, l := range ticket.Lines(strings.TrimRight(body, "\n")) {
		first := true
		for first || l != "" {
			limit := size
			if !first {
				limit -= utf8.RuneCountInString(continuation)
			}
			head, rest := splitRunes(l, limit)
			if !first {
				head = continuation + head
			}
			pieces = append(pieces, head)
			l, first = rest, false
		}
	}
	var out []string
	var cur strings.Builder
	curLen := 0
	for _, p := range pieces {
		pl := utf8.RuneCountInString(p)
		if cur.Len() > 0 && curLen+1+pl > size {
			out = append(out, cur.String())
			cur.Reset()
			curLen = 0
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
			curLen++
		}
		cur.WriteString(p)
		curLen += pl
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	if len(out) > n {
		out = append(out[:n-1], continuation+"… (cut short: the whole text is on the ticket)")
	}
	return out
}

// splitRunes cuts s after at most n characters.
func splitRunes(s string, n int) (string, string) {
	i := 0
	for j := range s {
		if i == n {
			return s[:j], s[j:]
		}
		i++
	}
	return s, ""
}

// truncate shortens s to at most n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	head, _ := splitRunes(s, n-1)
	return head + "…"
}
