package sns_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/sns"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/publishertest"
)

func TestPublisherGoaws(t *testing.T) {
	g := awstest.StartGoaws(t)
	publishertest.Run(t, func(t *testing.T) publishertest.Harness {
		tp := g.NewTopic(t)
		var (
			mu  sync.Mutex
			got []ticket.Message
		)
		return publishertest.Harness{
			Publisher: sns.NewPublisher(awstest.SNS(g.URL), tp.Arn),
			Delivered: func(t *testing.T) []ticket.Message {
				mu.Lock()
				defer mu.Unlock()
				for _, n := range tp.Receive(t) {
					got = append(got, ticket.Message{
						TicketID: n.MessageAttributes["ticketId"].Value,
						Subject:  n.Subject,
						Body:     n.Message,
						Severity: ticket.Severity(n.MessageAttributes["severity"].Value),
					})
				}
				return append([]ticket.Message(nil), got...)
			},
			FailNext: func(f publishertest.Failure) {
				switch f {
				case publishertest.FailServer:
					g.FailNext()
				case publishertest.FailRejected:
					g.RejectNext()
				}
			},
		}
	})
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"OK", "[Incident] high: Printer on fire", "[Incident] high: Printer on fire"},
		{"NonASCII", "[Incident] low: Ünïcödé ✓", "[Incident] low: ?n?c?d? ?"},
		{"Ellipsis", "a…", "a..."},
		{"LineBreaks", "a\nb\r\tc", "a b  c"},
		{"Empty", " \x01 ", "Incident"},
		{"ForgedLineLF", "x\nLink: https://evil.example/", "x Link: https://evil.example/"},
		{"ForgedLineUnicode", "x\u2028Ticket: 1\u0085y", "x Ticket: 1 y"},
		{"ANSIEscape", "\x1b[31mred\x1b[0m\x7f", "[31mred [0m"},
		{"BidiOverride", "a\u202eb", "ab"},
		{"Long", strings.Repeat("x", 150), strings.Repeat("x", 96) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sns.Subject(tc.in); got != tc.want {
				t.Errorf("Subject(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := sns.Subject(tc.in); len(got) >= 100 {
				t.Errorf("Subject(%q) has %d bytes, SNS allows < 100", tc.in, len(got))
			}
		})
	}
}
