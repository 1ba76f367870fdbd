package ticket_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func filed() *ticket.Ticket { return ticket.New("t-1", valid(), t0) }

func channelNames(cs []ticket.ChannelDelivery) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Channel)
	}
	return out
}

func TestDeliveryAllChannelsSent(t *testing.T) {
	tk := filed()
	due, err := tk.BeginDelivery("exec-1", []string{"outbox", "webhook:a"}, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(channelNames(due), ","); got != "outbox,webhook:a" {
		t.Fatalf("due = %s, want both channels", got)
	}
	if tk.Notification.Attempts != 1 || tk.Notification.Runs != 1 || tk.Notification.LeaseHolder != "exec-1" {
		t.Errorf("after Begin: attempts %d runs %d lease %q, want 1, 1, exec-1", tk.Notification.Attempts, tk.Notification.Runs, tk.Notification.LeaseHolder)
	}
	if err := tk.ChannelDelivered("outbox", t0); err != nil {
		t.Fatal(err)
	}
	if tk.Notification.Status != ticket.NotificationPending {
		t.Errorf("status after one of two channels = %s, want PENDING", tk.Notification.Status)
	}
	if err := tk.ChannelDelivered("outbox", t0); !errors.Is(err, ticket.ErrNoChange) {
		t.Errorf("second ChannelDelivered = %v, want ErrNoChange", err)
	}
	if err := tk.ChannelDelivered("webhook:a", t0); err != nil {
		t.Fatal(err)
	}
	n := tk.Notification
	if n.Status != ticket.NotificationSent || n.LeaseHolder != "" || n.FinishedAt.IsZero() || n.LastError != "" {
		t.Errorf("after both channels: %+v, want SENT, lease released, finished, no error", n)
	}
	if _, err := tk.BeginDelivery("exec-2", []string{"outbox"}, true, t0); !errors.Is(err, ticket.ErrNotificationFinal) {
		t.Errorf("Begin after SENT = %v, want ErrNotificationFinal", err)
	}
}

func TestDeliveryPartial(t *testing.T) {
	tk := filed()
	tk.BeginDelivery("exec-1", []string{"outbox", "webhook:a"}, true, t0)
	tk.ChannelDelivered("outbox", t0)
	if err := tk.EndAttempt("exec-1", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 404", Permanent: true}}, t0); err != nil {
		t.Fatal(err)
	}
	n := tk.Notification
	if n.Status != ticket.NotificationPartial {
		t.Fatalf("status = %s, want PARTIAL", n.Status)
	}
	if c := n.Channel("webhook:a"); c.Status != ticket.NotificationFailed || c.LastError != "HTTP 404" || c.Attempts != 1 {
		t.Errorf("webhook channel = %+v, want FAILED with HTTP 404 after 1 attempt", *c)
	}
	if !strings.Contains(n.LastError, "webhook:a: HTTP 404") {
		t.Errorf("lastError = %q, want the failed channel named", n.LastError)
	}
	pub := tk.Public()
	if pub.Notification.Status != ticket.NotificationPartial || pub.Notification.LastError != "" {
		t.Errorf("public notification = %+v, want PARTIAL without errors", pub.Notification)
	}
	for _, c := range pub.Notification.Channels {
		if strings.Contains(c.Channel, ":") || c.LastError != "" {
			t.Errorf("public channel %+v shows an address or error", c)
		}
	}
}

func TestDeliveryTransientThenSent(t *testing.T) {
	tk := filed()
	tk.BeginDelivery("exec-1", []string{"webhook:a"}, true, t0)
	retryAt := t0.Add(30 * time.Second)
	tk.EndAttempt("exec-1", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 429", RetryAt: retryAt}}, t0)
	n := tk.Notification
	if n.Status != ticket.NotificationPending || n.LeaseHolder != "" {
		t.Fatalf("after a transient failure: %s lease %q, want PENDING with the lease released", n.Status, n.LeaseHolder)
	}
	if c := n.Channel("webhook:a"); !c.NotBefore.Equal(retryAt) {
		t.Errorf("notBefore = %v, want the receiver's %v", c.NotBefore, retryAt)
	}
	due, err := tk.BeginDelivery("exec-1", []string{"webhook:a"}, true, t0.Add(time.Second))
	if err != nil || len(due) != 1 {
		t.Fatalf("retry Begin = %v, %v", due, err)
	}
	if tk.Notification.Runs != 1 || tk.Notification.Attempts != 2 {
		t.Errorf("a retry of the same execution: runs %d attempts %d, want 1 and 2", tk.Notification.Runs, tk.Notification.Attempts)
	}
	tk.ChannelDelivered("webhook:a", t0.Add(31*time.Second))
	if c := tk.Notification.Channel("webhook:a"); c.Attempts != 2 || tk.Notification.Status != ticket.NotificationSent {
		t.Errorf("channel after success = %+v (overall %s), want 2 attempts and SENT", *c, tk.Notification.Status)
	}
}

func TestDeliveryLeaseKeepsDuplicatesOut(t *testing.T) {
	tk := filed()
	tk.BeginDelivery("exec-1", []string{"outbox"}, true, t0)
	if _, err := tk.BeginDelivery("exec-2", []string{"outbox"}, true, t0.Add(time.Second)); !errors.Is(err, ticket.ErrDeliveryLeased) {
		t.Errorf("overlapping execution: %v, want ErrDeliveryLeased", err)
	}
	due, err := tk.BeginDelivery("exec-2", []string{"outbox"}, true, t0.Add(ticket.LeaseDuration+time.Second))
	if err != nil || len(due) != 1 {
		t.Fatalf("after the lease expired: %v, %v", due, err)
	}
	if tk.Notification.Runs != 2 || tk.Notification.Execution != "exec-2" {
		t.Errorf("runs %d execution %q, want the second run counted", tk.Notification.Runs, tk.Notification.Execution)
	}
}

func TestDeliveryKillSwitch(t *testing.T) {
	tk := filed()
	due, err := tk.BeginDelivery("exec-1", []string{"outbox"}, false, t0)
	if err != nil || len(due) != 0 {
		t.Fatalf("Begin with notifications off = %v, %v", due, err)
	}
	if n := tk.Notification; n.Status != ticket.NotificationFailed || !strings.Contains(n.LastError, "switched off") {
		t.Errorf("notification = %+v, want FAILED saying they are switched off", n)
	}
}

func TestDeliveryFailKeepsSentChannels(t *testing.T) {
	tk := filed()
	tk.BeginDelivery("exec-1", []string{"outbox", "webhook:a"}, true, t0)
	tk.ChannelDelivered("outbox", t0)
	tk.EndAttempt("exec-1", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 503"}}, t0)
	if err := tk.FailDelivery("exec-1", "TransientError: retries exhausted", t0); err != nil {
		t.Fatal(err)
	}
	n := tk.Notification
	if n.Status != ticket.NotificationPartial || n.Channel("webhook:a").LastError != "HTTP 503" {
		t.Errorf("after the workflow gave up: %+v, want PARTIAL keeping the channel's own error", n)
	}
	if err := tk.FailDelivery("exec-1", "again", t0); !errors.Is(err, ticket.ErrNoChange) {
		t.Errorf("FailDelivery when final = %v, want ErrNoChange", err)
	}
}

func TestRestartDeliveryCountsRuns(t *testing.T) {
	tk := filed()
	for run := 1; run <= 3; run++ {
		gaveUp, err := tk.RestartDelivery(3, t0)
		if run <= 3 && tk.Notification.Runs < 3 && (gaveUp || err != nil) {
			t.Fatalf("restart before run %d: gaveUp %v err %v", run, gaveUp, err)
		}
		if _, err := tk.BeginDelivery("exec-"+string(rune('0'+run)), []string{"outbox"}, true, t0); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	gaveUp, err := tk.RestartDelivery(3, t0)
	if err != nil || !gaveUp {
		t.Fatalf("after 3 runs: gaveUp %v err %v, want gave up", gaveUp, err)
	}
	if n := tk.Notification; n.Status != ticket.NotificationFailed || !strings.Contains(n.LastError, "3 runs") {
		t.Errorf("notification = %+v, want FAILED after 3 runs", n)
	}
	// The count is a field, not timeline text: it survives any number of timeline entries.
	tk2 := filed()
	tk2.BeginDelivery("exec-a", []string{"outbox"}, true, t0)
	for i := 0; i < 3*ticket.MaxTimeline; i++ {
		tk2.AddTimeline(t0, ticket.EventStatusChanged, "x")
	}
	if tk2.Notification.Runs != 1 {
		t.Errorf("runs = %d after the timeline rolled over, want 1", tk2.Notification.Runs)
	}
}

func TestDeliveryID(t *testing.T) {
	a, b := ticket.DeliveryID("t-1", "webhook:a"), ticket.DeliveryID("t-1", "webhook:b")
	if a == b || a != ticket.DeliveryID("t-1", "webhook:a") || !strings.HasPrefix(a, "t-1.") {
		t.Errorf("DeliveryID: %q and %q; want stable per ticket and channel, distinct across channels", a, b)
	}
}

func TestRetryDeliveryKeepsWhatWasReached(t *testing.T) {
	tk := filed()
	tk.BeginDelivery("exec-1", []string{"outbox", "webhook:a"}, true, t0)
	tk.ChannelDelivered("outbox", t0)
	tk.EndAttempt("exec-1", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 410", Permanent: true}}, t0)
	if err := tk.RetryDelivery("admin", t0); err != nil {
		t.Fatal(err)
	}
	if n := tk.Notification; n.Status != ticket.NotificationPending || n.Runs != 0 || n.Channel("outbox").Status != ticket.NotificationSent || n.Channel("webhook:a").Status != ticket.NotificationPending {
		t.Fatalf("after retry: %+v, want PENDING with the outbox still SENT and the webhook pending", n)
	}
	due, err := tk.BeginDelivery("exec-2", []string{"outbox", "webhook:a"}, true, t0)
	if err != nil || len(due) != 1 || due[0].Channel != "webhook:a" {
		t.Errorf("the retried run delivers %v (%v), want only the webhook", due, err)
	}
	if err := tk.RetryDelivery("admin", t0); !errors.Is(err, ticket.ErrNoChange) {
		t.Errorf("retry while pending = %v, want ErrNoChange", err)
	}
}
