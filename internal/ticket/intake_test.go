package ticket_test

import (
	"errors"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

var at = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestNewIntegrationFrom(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    ticket.NewIntegration
		field string
	}{
		{"OK", ticket.NewIntegration{Name: "Prometheus"}, ""},
		{"OKHeartbeat", ticket.NewIntegration{Name: "backup", Type: ticket.IntegrationHeartbeat, Interval: "25h"}, ""},
		{"ErrNameRequired", ticket.NewIntegration{Name: "  "}, "name"},
		{"ErrNameTwoLines", ticket.NewIntegration{Name: "a\nb"}, "name"},
		{"ErrType", ticket.NewIntegration{Name: "x", Type: "sms"}, "type"},
		{"ErrIntervalShort", ticket.NewIntegration{Name: "x", Type: ticket.IntegrationHeartbeat, Interval: "1s"}, "interval"},
		{"ErrIntervalOnEvents", ticket.NewIntegration{Name: "x", Interval: "5m"}, "interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, key, err := ticket.NewIntegrationFrom("id", tc.in, at)
			if tc.field == "" {
				if err != nil || len(key) != ticket.KeyLength || i.KeyHash != ticket.KeyHash(key) || i.KeyHint != key[28:] {
					t.Fatalf("= %+v, %q, %v", i, key, err)
				}
				return
			}
			var e *ticket.Error
			if !errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != tc.field {
				t.Errorf("err %v, want a field error on %s", err, tc.field)
			}
		})
	}
}

func TestFoldAndHeartbeat(t *testing.T) {
	tk := ticket.NewFromIntake("t1", ticket.Intake{Title: "x", Severity: ticket.SeverityLow, Reporter: ticket.Reporter{Name: "p"}, DedupKey: "s/k", Source: &ticket.Source{Kind: ticket.SourceEvents}}, at)
	by := ticket.Actor{Kind: ticket.ActorIntegration, ID: "i1", Name: "P"}
	if err := tk.Fold(by, "again", nil, at); err != nil || tk.Occurrences != 2 || tk.Timeline[len(tk.Timeline)-1].Actor.ID != "i1" {
		t.Fatalf("fold: %v, occurrences %d", err, tk.Occurrences)
	}
	if err := tk.TransitionBy(ticket.StatusResolved, by, at); err != nil {
		t.Fatal(err)
	}
	if err := tk.Fold(by, "", nil, at); !errors.Is(err, ticket.ErrNotOpen) {
		t.Errorf("fold on a resolved ticket: %v, want ErrNotOpen", err)
	}
	if p := tk.Public(); p.DedupKey != "" || p.Source.DedupKey != "" {
		t.Errorf("the public view shows the dedup key: %+v", p.Source)
	}

	i, _, _ := ticket.NewIntegrationFrom("h", ticket.NewIntegration{Name: "b", Type: ticket.IntegrationHeartbeat, Interval: "1h"}, at)
	if i.Due(at.Add(48 * time.Hour)) {
		t.Error("due before its first ping")
	}
	i.Ping(at)
	if i.Due(at.Add(59*time.Minute)) || !i.Due(at.Add(time.Hour)) {
		t.Error("due at the wrong time")
	}
	if err := i.Missed("t9", at.Add(time.Hour)); err != nil || i.Heartbeat.State != ticket.HeartbeatDown {
		t.Fatalf("missed: %v %+v", err, i.Heartbeat)
	}
	if err := i.Missed("t10", at.Add(2*time.Hour)); !errors.Is(err, ticket.ErrNoChange) {
		t.Errorf("missed twice: %v, want ErrNoChange", err)
	}
	if got := i.Ping(at.Add(3 * time.Hour)); got != "t9" || i.Heartbeat.State != ticket.HeartbeatUp {
		t.Errorf("ping after down returned %q (state %s), want t9 and up", got, i.Heartbeat.State)
	}
}

func TestMailNotices(t *testing.T) {
	tk := ticket.New("t1", ticket.NewTicket{Title: "x", Severity: ticket.SeverityLow, Reporter: ticket.Reporter{Name: "A", Email: "a@example.com"}}, at)
	tk.QueueMail(ticket.MailFiled, "", at)
	n := tk.PendingMail(at)[0]
	for i := 1; i < ticket.MaxMailAttempts; i++ {
		if err := tk.MailFailed(n.ID, "421 busy", false, at); err != nil {
			t.Fatal(err)
		}
		if len(tk.PendingMail(at)) != 0 || !tk.HasPendingMail() {
			t.Fatalf("attempt %d: a failed notice is retried at once, or given up too soon", i)
		}
	}
	tk.MailFailed(n.ID, "421 busy", false, at)
	if tk.HasPendingMail() || tk.Mail[0].Status != ticket.NotificationFailed {
		t.Errorf("after %d attempts: %+v, want FAILED", ticket.MaxMailAttempts, tk.Mail[0])
	}
	noEmail := ticket.NewFromIntake("t2", ticket.Intake{Title: "x", Severity: ticket.SeverityLow, Reporter: ticket.Reporter{Name: "m"}}, at)
	noEmail.QueueMail(ticket.MailFiled, "", at)
	if noEmail.HasPendingMail() {
		t.Error("mail queued for a reporter without an address")
	}
}
