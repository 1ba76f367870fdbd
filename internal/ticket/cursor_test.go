package ticket_test

import (
	"testing"

	"github.com/incidentmanager/incidents/internal/ticket"
)

type fuzzPos struct {
	CreatedAt string `json:"c"`
	ID        string `json:"i"`
	N         int    `json:"n"`
}

// FuzzCursorDecode: a cursor is opaque and tamper-evident. Whatever string a client sends,
// Decode never panics and either refuses it as EINVALID or yields a position that this key
// sealed; and no cursor survives a changed byte.
func FuzzCursorDecode(f *testing.F) {
	c := ticket.NewCursor([]byte("fuzz-key-0123456789abcdef"))
	good, _ := c.Encode(fuzzPos{CreatedAt: "2026-11-27T09:30:00Z", ID: "0193a6f0-5e2c-7c1a-9c43-3f1f2b6a9d10", N: 3})
	for _, s := range []string{good, "", "!!", "e30", good[:len(good)-1], good + "A", "eyJjIjoiIn0AAAAAAAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p fuzzPos
		err := c.Decode(s, &p)
		if err != nil {
			if ticket.ErrorCode(err) != ticket.EINVALID {
				t.Fatalf("Decode(%q) = %v, want EINVALID", s, err)
			}
			return
		}
		// Accepted: the tag matched, so it re-encodes to a cursor for the same position, and
		// changing any one byte of it must break it.
		again, err := c.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		var q fuzzPos
		if err := c.Decode(again, &q); err != nil || q != p {
			t.Fatalf("re-encoded cursor of %+v decodes to %+v, %v", p, q, err)
		}
		for i := range len(s) {
			b := []byte(s)
			b[i] ^= 0x01
			var r fuzzPos
			if c.Decode(string(b), &r) == nil {
				t.Fatalf("cursor %q with byte %d changed (%q) was still accepted", s, i, b)
			}
		}
	})
}
