package outbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/incidentmanager/incidents/internal/outbox"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/publishertest"
)

func TestPublisherContract(t *testing.T) {
	publishertest.Run(t, func(t *testing.T) publishertest.Harness {
		o := outbox.New(filepath.Join(t.TempDir(), "outbox.jsonl"), nil)
		return publishertest.Harness{
			Publisher: o,
			Delivered: func(t *testing.T) []ticket.Message {
				entries, err := o.List(context.Background(), "", 1000)
				if err != nil {
					t.Fatal(err)
				}
				var out []ticket.Message
				for i := len(entries) - 1; i >= 0; i-- {
					out = append(out, entries[i].Message)
				}
				return out
			},
		}
	})
}

func TestListSkipsTornLineAndFilters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	o := outbox.New(path, nil)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "a"} {
		m := publishertest.Message()
		m.TicketID = id
		if err := o.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","tick`)
	f.Close()
	m := publishertest.Message()
	m.TicketID = "c"
	if err := o.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, _ := o.List(ctx, "c", 10); len(got) != 1 {
		t.Errorf("entry written after a torn line: List(c) = %+v, want 1 entry", got)
	}
	got, err := o.List(ctx, "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].TicketID != "a" {
		t.Fatalf("List(a) = %+v, want the 2 entries of ticket a", got)
	}
	if got[0].At.Before(got[1].At) {
		t.Errorf("List not newest first: %s before %s", got[0].At, got[1].At)
	}
	all, _ := o.List(ctx, "", 2)
	if len(all) != 2 {
		t.Errorf("List(limit 2) returned %d entries", len(all))
	}
}
