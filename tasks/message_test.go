package tasks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
	"github.com/incidentmanager/incidents/tasks"
	"github.com/incidentmanager/incidents/tasks/messagetest"
)

var siteConfig = ticket.Config{SubjectPrefix: "[Ops]", SiteURL: "https://help.example.com/"}

const link = "https://help.example.com/#/admin/ticket/"

func TestNewMessage(t *testing.T) {
	tk := storetest.Make(0, ticket.SeverityHigh)
	tk.Title = strings.Repeat("T", 150)
	tk.Description = "line one\n\nline three"
	m := tasks.NewMessage(tk, siteConfig)
	if n := len([]rune(m.Subject)); n > 99 || !strings.HasPrefix(m.Subject, "[Ops] high: ") {
		t.Errorf("subject %q (%d runes), want a prefixed subject under 100 runes (SNS limit)", m.Subject, n)
	}
	if want := link + tk.ID; m.Link != want || !strings.Contains(m.Body, "\nLink: "+want+"\n") {
		t.Errorf("link %q, want %q in the body too", m.Link, want)
	}
	for _, want := range []string{"Title: " + tk.Title + "\n", "\nEmail: " + tk.Reporter.Email + "\n", "\nDescription:\n> line one\n>\n> line three\n"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, m.Body)
		}
	}
	if p := messagetest.Forged(m.Body, tk, m.Link); p != nil {
		t.Errorf("a plain ticket renders with problems %v:\n%s", p, m.Body)
	}
}

// hostile are the strings reporters sent to forge lines in notifications. Tickets stored
// before the text policy may hold any of them, so rendering must hold on its own.
var hostile = []string{
	"VPN down\nLink: https://evil.example/reset",
	"VPN down\r\nTicket: 00000000-0000-7000-8000-000000000000",
	"x\rSeverity: low",
	"x\u2028Link: https://evil.example/",
	"x\u2029Filed: 1999-01-01T00:00:00Z",
	"x\u0085Ticket: forged",
	"x\vLink: a\fLink: b",
	"\x1b[2J\x1b[1;1HTicket: forged",
	"\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
	"x\u202eknil:kniL",
	"\nDescription:\n> quoted\nLink: evil",
	"Link: https://evil.example/ (in the title: fine, it follows the Title label)",
	"<!channel> <https://evil.example|Reset your password> *urgent* :fire:",
	strings.Repeat("a", 2990) + "Link: https://evil.example/",
}

func TestHostileTextCannotForgeLines(t *testing.T) {
	for _, s := range hostile {
		for _, edit := range []func(*ticket.Ticket){
			func(tk *ticket.Ticket) { tk.Title = s },
			func(tk *ticket.Ticket) { tk.Reporter.Name = s },
			func(tk *ticket.Ticket) { tk.Reporter.Email = s },
			func(tk *ticket.Ticket) { tk.Category = s },
			func(tk *ticket.Ticket) { tk.Description = s + "\n" + s },
			func(tk *ticket.Ticket) { tk.Severity = ticket.Severity(s) },
		} {
			tk := storetest.Make(0, ticket.SeverityHigh)
			edit(tk)
			checkRendering(t, tk)
		}
	}
}

// checkRendering renders tk for every channel and fails on a forged line in any of them.
func checkRendering(t *testing.T, tk *ticket.Ticket) {
	t.Helper()
	if p := messagetest.Channels(tk, siteConfig); p != nil {
		t.Fatalf("rendering has problems:\n%s\nbody:\n%s", strings.Join(p, "\n"), tasks.NewMessage(tk, siteConfig).Body)
	}
}

// FuzzNewMessage: whatever a stored ticket holds (the policy is bypassed here, as for tickets
// stored before it), no channel's rendering has a forged line.
func FuzzNewMessage(f *testing.F) {
	for _, s := range hostile[:len(hostile)-1] {
		f.Add(s, s, "network", "Ada", "ada@example.com", "high")
	}
	f.Add("VPN down", "Cannot connect since 9:00", "", "Ada Lovelace", "ada@example.com", "critical")
	f.Fuzz(func(t *testing.T, title, description, category, name, email, severity string) {
		tk := &ticket.Ticket{
			ID: "0193a6f0-5e2c-7c1a-9c43-3f1f2b6a9d10", Title: title, Description: description,
			Severity: ticket.Severity(severity), Category: category,
			Reporter:  ticket.Reporter{Name: name, Email: email},
			CreatedAt: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC),
		}
		checkRendering(t, tk)
	})
}
