package sqlite

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

func sampleTicket() []byte {
	tk := ticket.New("01a235d4-8ac2-7292-b1f3-d1d8bda771a7", ticket.NewTicket{Title: "Printer on fire", Description: "Smoke from tray 2 since this morning.", Severity: "high", Category: "hardware", Reporter: ticket.Reporter{Name: "Grace", Email: "grace@example.org"}}, time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	tk.BeginDelivery("arn:aws:states:local:000000000000:express:incident-manager-notify:01a235d4-8ac2-7292-b1f3-d1d8bda771a7:e9d7696d-fbd1-42f3-b76f-8e20986a63b8", []string{"outbox", "webhook:hooks.example.com#0f074a71bb97"}, true, tk.CreatedAt)
	tk.ChannelDelivered("outbox", tk.CreatedAt)
	b, _ := json.Marshal(tk)
	return b
}

func TestPackRoundTrip(t *testing.T) {
	for _, v := range [][]byte{sampleTicket(), []byte(`{}`), bytes.Repeat([]byte(`{"a":"b"}`), 3000)} {
		p := pack(v)
		got, err := unpack(p)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("unpack(pack(%d bytes)) = %d bytes, %v", len(v), len(got), err)
		}
	}
	if v := sampleTicket(); len(pack(v))*3 > len(v) {
		t.Errorf("a ticket of %d bytes packs to %d, want under a third", len(v), len(pack(v)))
	}
	if got, _ := unpack([]byte(`{"plain":true}`)); string(got) != `{"plain":true}` {
		t.Errorf("JSON text stored before compression reads as %q", got)
	}
}

func BenchmarkPack(b *testing.B) {
	v := sampleTicket()
	for b.Loop() {
		pack(v)
	}
}

func BenchmarkUnpack(b *testing.B) {
	p := pack(sampleTicket())
	for b.Loop() {
		unpack(p)
	}
}
