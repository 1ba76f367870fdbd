package ticket_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

func valid() ticket.NewTicket {
	return ticket.NewTicket{Title: "VPN down", Description: "since 9", Severity: "high", Category: "network", Reporter: ticket.Reporter{Name: "Ada", Email: "ada@example.com"}}
}

func fields(err error) []string {
	var e *ticket.Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*ticket.NewTicket)
		fields []string
	}{
		{"OK", func(*ticket.NewTicket) {}, nil},
		{"OKMaxLengthsInRunes", func(n *ticket.NewTicket) {
			n.Title = strings.Repeat("é", 200)
			n.Description = strings.Repeat("ü", 10000)
			n.Category = strings.Repeat("c", 64)
			n.Reporter.Name = strings.Repeat("n", 100)
		}, nil},
		{"OKSeverityDefaultsToMedium", func(n *ticket.NewTicket) { n.Severity = "" }, nil},
		{"OKSeverityCaseInsensitive", func(n *ticket.NewTicket) { n.Severity = " Critical " }, nil},
		{"ErrTitleRequired", func(n *ticket.NewTicket) { n.Title = " \t\n" }, []string{"title"}},
		{"ErrTitleTooLong", func(n *ticket.NewTicket) { n.Title = strings.Repeat("x", 201) }, []string{"title"}},
		{"ErrDescriptionTooLong", func(n *ticket.NewTicket) { n.Description = strings.Repeat("x", 10001) }, []string{"description"}},
		{"ErrSeverity", func(n *ticket.NewTicket) { n.Severity = "urgent" }, []string{"severity"}},
		{"ErrCategoryTooLong", func(n *ticket.NewTicket) { n.Category = strings.Repeat("x", 65) }, []string{"category"}},
		{"ErrNameRequired", func(n *ticket.NewTicket) { n.Reporter.Name = "" }, []string{"reporter.name"}},
		{"ErrNameTooLong", func(n *ticket.NewTicket) { n.Reporter.Name = strings.Repeat("x", 101) }, []string{"reporter.name"}},
		{"ErrEmailRequired", func(n *ticket.NewTicket) { n.Reporter.Email = "" }, []string{"reporter.email"}},
		{"ErrEmailDisplayName", func(n *ticket.NewTicket) { n.Reporter.Email = "Ada <ada@example.com>" }, []string{"reporter.email"}},
		{"ErrEmailNoDot", func(n *ticket.NewTicket) { n.Reporter.Email = "ops@localhost" }, []string{"reporter.email"}},
		{"ErrEmailNoAt", func(n *ticket.NewTicket) { n.Reporter.Email = "ada.example.com" }, []string{"reporter.email"}},
		{"ErrNUL", func(n *ticket.NewTicket) { n.Title = "a\x00b" }, []string{"title"}},
		{"ErrInvalidUTF8", func(n *ticket.NewTicket) { n.Description = "a\xffb" }, []string{"description"}},
		{"ErrEverythingAtOnce", func(n *ticket.NewTicket) { *n = ticket.NewTicket{Severity: "x"} }, []string{"title", "severity", "reporter.name", "reporter.email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := valid()
			tc.edit(&n)
			n.Normalize()
			err := n.Validate()
			if got, want := fmt.Sprint(fields(err)), fmt.Sprint(tc.fields); got != want {
				t.Errorf("invalid fields = %s (err %v), want %s", got, err, want)
			}
			if err != nil && ticket.ErrorCode(err) != ticket.EINVALID {
				t.Errorf("code = %s, want %s", ticket.ErrorCode(err), ticket.EINVALID)
			}
		})
	}
}

func TestNewAndTransition(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	tk := ticket.New("id-1", valid(), now)
	if tk.Status != ticket.StatusOpen || tk.Notification.Status != ticket.NotificationPending || tk.Version != 1 || tk.CreatedAt.Location() != time.UTC {
		t.Fatalf("New = %+v, want open, PENDING, version 1, UTC times", tk)
	}
	if err := tk.Transition(ticket.StatusAcknowledged, now); err != nil {
		t.Fatal(err)
	}
	if err := tk.Transition(ticket.StatusAcknowledged, now); ticket.ErrorCode(err) != ticket.ECONFLICT {
		t.Errorf("same-status transition: %v, want conflict", err)
	}
	if err := tk.Transition("closed", now); ticket.ErrorCode(err) != ticket.EINVALID {
		t.Errorf("unknown status: %v, want invalid", err)
	}
	if err := tk.Transition(ticket.StatusResolved, now); err != nil {
		t.Fatal(err)
	}
	if err := tk.Transition(ticket.StatusOpen, now); err != nil {
		t.Errorf("reopen: %v", err)
	}
	if got := tk.Timeline[len(tk.Timeline)-1].Message; got != "resolved → open" {
		t.Errorf("last timeline message = %q, want the reopen", got)
	}
}

func TestTimelineIsBoundedAndKeepsCreation(t *testing.T) {
	tk := ticket.New("id-1", valid(), time.Now())
	for i := 0; i < 3*ticket.MaxTimeline; i++ {
		tk.AddTimeline(time.Now(), ticket.EventNotifyDelivered, fmt.Sprint(i))
	}
	if len(tk.Timeline) != ticket.MaxTimeline {
		t.Errorf("timeline has %d entries, want %d", len(tk.Timeline), ticket.MaxTimeline)
	}
	if tk.Timeline[0].Type != ticket.EventCreated {
		t.Errorf("first entry = %s, want the creation kept", tk.Timeline[0].Type)
	}
	if got, want := tk.Timeline[len(tk.Timeline)-1].Message, fmt.Sprint(3*ticket.MaxTimeline-1); got != want {
		t.Errorf("last entry = %s, want %s (the newest)", got, want)
	}
}

func TestCursor(t *testing.T) {
	type pos struct{ A string }
	c := ticket.NewCursor([]byte("key-1"))
	s, err := c.Encode(pos{"x"})
	if err != nil {
		t.Fatal(err)
	}
	var got pos
	if err := c.Decode(s, &got); err != nil || got.A != "x" {
		t.Fatalf("Decode(Encode) = %+v, %v", got, err)
	}
	if err := ticket.NewCursor([]byte("key-2")).Decode(s, &got); ticket.ErrorCode(err) != ticket.EINVALID {
		t.Errorf("cursor from another key: %v, want invalid", err)
	}
	for _, bad := range []string{"", "!!", s[:len(s)-1], "e30"} {
		if err := c.Decode(bad, &got); ticket.ErrorCode(err) != ticket.EINVALID {
			t.Errorf("Decode(%q) = %v, want invalid", bad, err)
		}
	}
}

func TestErrors(t *testing.T) {
	internal := errors.New("disk on fire")
	if ticket.ErrorCode(internal) != ticket.EINTERNAL || ticket.ErrorMessage(internal) != "Internal error." {
		t.Errorf("internal error maps to %s %q", ticket.ErrorCode(internal), ticket.ErrorMessage(internal))
	}
	wrapped := fmt.Errorf("get: %w", ticket.ErrNotFound)
	if ticket.ErrorCode(wrapped) != ticket.ENOTFOUND {
		t.Errorf("wrapped not-found maps to %s", ticket.ErrorCode(wrapped))
	}
	if !ticket.IsTransient(fmt.Errorf("x: %w", &ticket.TransientError{Err: internal})) || ticket.IsTransient(&ticket.PermanentError{Err: internal}) {
		t.Error("IsTransient does not tell transient from permanent")
	}
}
