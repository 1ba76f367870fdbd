package ticket_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/incidentmanager/incidents/internal/ticket"
)

func TestTextPolicy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*ticket.NewTicket)
		field string // "" = valid
		msg   string // part of the field's message
	}{
		{"OKAccentsAndEmoji", func(n *ticket.NewTicket) { n.Title = "Café ☕ 👨‍👩‍👧 наладить печать" }, "", ""},
		{"OKRightToLeft", func(n *ticket.NewTicket) { n.Title = "الطابعة لا تعمل" }, "", ""},
		{"OKDescriptionLinesAndTabs", func(n *ticket.NewTicket) { n.Description = "line 1\n\tindented\nline 3" }, "", ""},
		{"OKZeroWidthJoinerInsideText", func(n *ticket.NewTicket) { n.Reporter.Name = "می\u200cخواهم" }, "", ""},
		{"OKEmailInternational", func(n *ticket.NewTicket) { n.Reporter.Email = "jürgen@example.de" }, "", ""},
		{"OKEightMarks", func(n *ticket.NewTicket) { n.Title = "x" + strings.Repeat("\u0301", 8) }, "", ""},
		{"OKLabelLikeText", func(n *ticket.NewTicket) { n.Title = "Link: https://evil.example/ Ticket: 123" }, "", ""},

		{"ErrTitleNewline", func(n *ticket.NewTicket) { n.Title = "VPN down\nLink: https://evil.example/" }, "title", "one line"},
		{"ErrTitleCR", func(n *ticket.NewTicket) { n.Title = "VPN down\rTicket: 1" }, "title", "one line"},
		{"ErrTitleTab", func(n *ticket.NewTicket) { n.Title = "a\tb" }, "title", "one line"},
		{"ErrTitleLineSeparator", func(n *ticket.NewTicket) { n.Title = "a\u2028Link: x" }, "title", "one line"},
		{"ErrTitleNEL", func(n *ticket.NewTicket) { n.Title = "a\u0085Link: x" }, "title", "one line"},
		{"ErrTitleANSI", func(n *ticket.NewTicket) { n.Title = "\x1b[31mred\x1b[0m" }, "title", "U+001B"},
		{"ErrTitleDEL", func(n *ticket.NewTicket) { n.Title = "a\x7fb" }, "title", "control"},
		{"ErrTitleC1", func(n *ticket.NewTicket) { n.Title = "a\u009bb" }, "title", "control"},
		{"ErrTitleNUL", func(n *ticket.NewTicket) { n.Title = "a\x00b" }, "title", "control"},
		{"ErrTitleOnlyZeroWidthSpaces", func(n *ticket.NewTicket) { n.Title = "\u200b\u200b" }, "title", "visible"},
		{"ErrTitleOnlyBOM", func(n *ticket.NewTicket) { n.Title = "\ufeff" }, "title", "visible"},
		{"ErrTitleOnlyHangulFiller", func(n *ticket.NewTicket) { n.Title = "\u3164\u3164" }, "title", "visible"},
		{"ErrTitleOnlyBrailleBlank", func(n *ticket.NewTicket) { n.Title = "\u2800" }, "title", "visible"},
		{"ErrTitleOnlyMarks", func(n *ticket.NewTicket) { n.Title = "\u0301\u0302" }, "title", "visible"},
		{"ErrTitleOnlyPrivateUse", func(n *ticket.NewTicket) { n.Title = "\ue000" }, "title", "visible"},
		{"ErrTitleU+FFFF", func(n *ticket.NewTicket) { n.Title = "x\uffff" }, "title", "noncharacter"},
		{"ErrTitleU+FDD0", func(n *ticket.NewTicket) { n.Title = "x\ufdd0" }, "title", "noncharacter"},
		{"ErrTitlePlane1Noncharacter", func(n *ticket.NewTicket) { n.Title = "x\U0001fffe" }, "title", "noncharacter"},
		{"ErrTitleBidiOverride", func(n *ticket.NewTicket) { n.Title = "invoice\u202egpj.exe" }, "title", "direction"},
		{"ErrTitleBidiIsolate", func(n *ticket.NewTicket) { n.Title = "a\u2066b\u2069" }, "title", "direction"},
		{"ErrTitleTagCharacters", func(n *ticket.NewTicket) { n.Title = "hi\U000e0049\U000e0067" }, "title", "tag"},
		{"ErrTitleZalgo", func(n *ticket.NewTicket) { n.Title = "x" + strings.Repeat("\u0301", 9) }, "title", "combining"},
		{"ErrTitleTooManyBytes", func(n *ticket.NewTicket) {
			n.Title = strings.Repeat("x"+strings.Repeat("\u0301", 8), 80) // 80 characters, 1,360 bytes
		}, "title", "bytes"},
		{"ErrTitleInvalidUTF8", func(n *ticket.NewTicket) { n.Title = "a\xc3" }, "title", "UTF-8"},
		{"ErrDescriptionANSI", func(n *ticket.NewTicket) { n.Description = "ok\n\x1b]8;;https://evil\x07x" }, "description", "control"},
		{"ErrDescriptionVerticalTab", func(n *ticket.NewTicket) { n.Description = "a\vb" }, "description", "control"},
		{"ErrDescriptionNEL", func(n *ticket.NewTicket) { n.Description = "a\u0085b" }, "description", "control"},
		{"ErrDescriptionOnlyInvisible", func(n *ticket.NewTicket) { n.Description = "\u200b\u2060" }, "description", "visible"},
		{"ErrCategoryNewline", func(n *ticket.NewTicket) { n.Category = "net\nwork" }, "category", "one line"},
		{"ErrCategoryInvisible", func(n *ticket.NewTicket) { n.Category = "\u200b" }, "category", "visible"},
		{"ErrNameNewline", func(n *ticket.NewTicket) { n.Reporter.Name = "Ada\nTicket: 0000" }, "reporter.name", "one line"},
		{"ErrNameOnlyInvisible", func(n *ticket.NewTicket) { n.Reporter.Name = "\u3164" }, "reporter.name", "visible"},
		{"ErrNameBidi", func(n *ticket.NewTicket) { n.Reporter.Name = "\u202eadA" }, "reporter.name", "direction"},
		{"ErrEmailZeroWidthSpace", func(n *ticket.NewTicket) { n.Reporter.Email = "ada\u200b@example.com" }, "reporter.email", "invisible"},
		{"ErrEmailBOM", func(n *ticket.NewTicket) { n.Reporter.Email = "ada@exam\ufeffple.com" }, "reporter.email", "invisible"},
		{"ErrEmailNoBreakSpace", func(n *ticket.NewTicket) { n.Reporter.Email = "ada\u00a0x@example.com" }, "reporter.email", "invisible"},
		{"ErrEmailNewline", func(n *ticket.NewTicket) { n.Reporter.Email = "ada@example.com\nBcc: x@evil.example" }, "reporter.email", "invisible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := valid()
			tc.edit(&n)
			n.Normalize()
			err := n.Validate()
			var want []string
			if tc.field != "" {
				want = []string{tc.field}
			}
			if got := fields(err); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("invalid fields = %v (err %v), want %v", got, err, want)
			}
			if tc.field != "" {
				if msg := err.(*ticket.Error).Fields[0].Message; !strings.Contains(msg, tc.msg) {
					t.Errorf("message %q does not mention %q", msg, tc.msg)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	n := valid()
	n.Title = "  Cafe\u0301  "                  // e + combining acute
	n.Description = "a\r\nb\rc\u2028d\u2029e\n" // every line break becomes LF
	n.Normalize()
	if n.Title != "Café" || !norm.NFC.IsNormalString(n.Title) {
		t.Errorf("title = %q, want NFC %q", n.Title, "Café")
	}
	if got, want := n.Description, "a\nb\nc\nd\ne"; got != want {
		t.Errorf("description = %q, want %q", got, want)
	}
	// Characters count a letter with its accents once, so NFD and NFC limits agree.
	n = valid()
	n.Title = strings.Repeat("e\u0301\u0302", ticket.MaxTitle)
	n.Normalize()
	if err := n.Validate(); err != nil {
		t.Errorf("%d accented letters refused: %v", ticket.MaxTitle, err)
	}
}

func TestOneLineAndLines(t *testing.T) {
	if got, want := ticket.OneLine("a\nb\rc\u2028d\u0085e\x1b[0m\u202ef\U000e0041"), "a b c d e [0mf"; got != want {
		t.Errorf("OneLine = %q, want %q", got, want)
	}
	got := ticket.Lines("1\r\n2\n3\r4\u20285\u20296\u00857\v8\f9")
	if want := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Lines = %q, want %q", got, want)
	}
	if got := ticket.Lines("a\xffb"); len(got) != 1 || !utf8.ValidString(got[0]) {
		t.Errorf("Lines of invalid UTF-8 = %q, want one valid line", got)
	}
}

// FuzzValidate: whatever a reporter sends, Normalize is stable and an accepted submission
// holds only what the policy allows: NFC, valid UTF-8, one-line fields that OneLine leaves
// alone, a description whose only control characters are LF and tab.
func FuzzValidate(f *testing.F) {
	f.Add("VPN down", "Cannot connect\r\nsince 9:00", "network", "Ada", "ada@example.com")
	f.Add("\u200b", "\x1b[31m", "\u202e", "\u3164", "a\u200b@b.co")
	f.Add("e\u0301", "a\u2028b", "x\uffff", "Ada\nTicket: 1", "ada@example.com\r\n")
	f.Fuzz(func(t *testing.T, title, description, category, name, email string) {
		n := ticket.NewTicket{Title: title, Description: description, Category: category, Reporter: ticket.Reporter{Name: name, Email: email}}
		n.Normalize()
		again := n
		again.Normalize()
		if again != n {
			t.Fatalf("Normalize is not idempotent: %+v then %+v", n, again)
		}
		if n.Validate() != nil {
			return
		}
		for _, s := range []string{n.Title, n.Category, n.Reporter.Name, n.Reporter.Email} {
			if !utf8.ValidString(s) || !norm.NFC.IsNormalString(s) || ticket.OneLine(s) != s {
				t.Errorf("accepted one-line field %q is not valid NFC on one line", s)
			}
		}
		if !norm.NFC.IsNormalString(n.Description) || len(ticket.Lines(n.Description)) != strings.Count(n.Description, "\n")+1 {
			t.Errorf("accepted description %q holds line breaks other than LF", n.Description)
		}
		for _, c := range n.Description {
			if (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f) {
				t.Errorf("accepted description %q holds control %U", n.Description, c)
			}
		}
	})
}
