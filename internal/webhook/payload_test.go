package webhook_test

import (
	"strings"
	"testing"

	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/publishertest"
	"github.com/incidentmanager/incidents/internal/webhook"
)

func TestPayloadEscapesAndUsesPlainText(t *testing.T) {
	m := publishertest.Message()
	m.Subject = "[Incident] high: <!channel> <https://evil.example|Reset password> & *bold*"
	p := webhook.NewPayload(m)
	if want := "[Incident] high: &lt;!channel&gt; &lt;https://evil.example|Reset password&gt; &amp; *bold*"; p.Text != want {
		t.Errorf("text = %q, want %q (Slack's mrkdwn escaping)", p.Text, want)
	}
	if p.Mrkdwn {
		t.Error("mrkdwn is on: the fallback text would be formatted")
	}
	if p.Subject != m.Subject || p.Body != m.Body {
		t.Errorf("raw fields changed: subject %q body %q", p.Subject, p.Body)
	}
	for i, b := range p.Blocks {
		if b.Text == nil || b.Text.Type != "plain_text" {
			t.Errorf("block %d = %+v, want plain_text", i, b)
		}
	}
	if p.Blocks[0].Text.Text != m.Subject {
		t.Errorf("header = %q, want the subject as typed (plain_text shows it literally)", p.Blocks[0].Text.Text)
	}
}

func TestPayloadFitsSlackLimits(t *testing.T) {
	m := publishertest.Message()
	m.Subject = strings.Repeat("s", 200)
	long := strings.Repeat("x", 7000) + "Link: https://evil.example/"
	m.Body = "Title: t\n\nDescription:\n> " + long + "\n> short\n"
	p := webhook.NewPayload(m)
	if n := len([]rune(p.Blocks[0].Text.Text)); n != 150 || !strings.HasSuffix(p.Blocks[0].Text.Text, "…") {
		t.Errorf("header has %d characters, want 150 ending in …", n)
	}
	var lines []string
	for _, b := range p.Blocks[1:] {
		if n := len([]rune(b.Text.Text)); n > 3000 {
			t.Errorf("section of %d characters, Slack takes 3000", n)
		}
		lines = append(lines, strings.Split(b.Text.Text, "\n")...)
	}
	joined := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "Link:") || strings.HasPrefix(l, "x") {
			t.Errorf("a section line starts with text from the middle of a line: %.40q", l)
		}
		joined += strings.TrimPrefix(l, "> ")
	}
	if !strings.Contains(joined, long) {
		t.Error("the long line did not survive being split across sections")
	}
	// A body of many lines stays within 50 blocks.
	m.Body = strings.Repeat("> "+strings.Repeat("y", 2990)+"\n", 80)
	if p := webhook.NewPayload(m); len(p.Blocks) > 50 || !strings.Contains(p.Blocks[len(p.Blocks)-1].Text.Text, "cut short") {
		t.Errorf("%d blocks, want at most 50 ending with a note that the text was cut", len(p.Blocks))
	}
}

func TestPayloadOfEmptyBody(t *testing.T) {
	p := webhook.NewPayload(ticket.Message{Subject: "s"})
	if len(p.Blocks) != 1 {
		t.Errorf("blocks = %+v, want only the header (Slack refuses empty sections)", p.Blocks)
	}
}
