package ticket

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The text policy: one set of rules for every string a reporter sends, checked here so that
// the API, intake channels and Lambdas all hold the same line. Text is stored only if it
//
//   - is valid UTF-8, NFC-normalised (so "é" typed two ways is one string, and limits count
//     the same for both);
//   - has no control characters: no C0 (except line feed and tab in a description), no DEL,
//     no C1; a description's CRLF, CR, U+2028 and U+2029 become LF, and one-line fields hold
//     no line break of any kind;
//   - has no direction overrides, embeddings or isolates (U+202A–U+202E, U+2066–U+2069),
//     which make text display in another order than it reads ("Trojan Source"), no Unicode
//     noncharacters (U+FFFE, U+FFFF, U+FDD0–U+FDEF, …) and no tag characters
//     (U+E0000–U+E007F, invisible text that tools still read);
//   - has at least one visible character (a letter, digit, punctuation or symbol that is not
//     a blank look-alike such as U+3164 HANGUL FILLER or U+2800 BRAILLE PATTERN BLANK), so a
//     title of zero-width spaces, byte-order marks or U+FFFF is refused;
//   - stacks at most MaxCombining combining marks on one character ("Zalgo" text spills over
//     neighbouring lines when displayed);
//   - fits its limits in characters (a letter with its accents counts once; joiners and other
//     invisible format characters do not count) and in bytes of UTF-8 (what storage and
//     channels pay for).
//
// Rendering does not rely on this alone: notifications still flatten every one-line field
// (OneLine) because tickets stored before the policy existed may hold anything.

// MaxCombining is the most combining marks allowed on one character.
const MaxCombining = 8

// Byte limits, in UTF-8. They are generous beside the character limits (six bytes per
// character: scripts whose letters take several code points fit), and bind only on text
// that piles marks onto few characters.
const (
	MaxTitleBytes       = 6 * MaxTitle
	MaxDescriptionBytes = 6 * MaxDescription
	MaxCategoryBytes    = 6 * MaxCategory
	MaxNameBytes        = 6 * MaxName
)

// textRule is what one field may hold.
type textRule struct {
	label     string // starts the field's messages: "Title"
	multiline bool   // line feeds and tabs allowed
	required  bool
	maxChars  int
	maxBytes  int
}

var (
	titleRule       = textRule{label: "Title", required: true, maxChars: MaxTitle, maxBytes: MaxTitleBytes}
	descriptionRule = textRule{label: "Description", multiline: true, maxChars: MaxDescription, maxBytes: MaxDescriptionBytes}
	categoryRule    = textRule{label: "Category", maxChars: MaxCategory, maxBytes: MaxCategoryBytes}
	nameRule        = textRule{label: "Name", required: true, maxChars: MaxName, maxBytes: MaxNameBytes}
)

// lineBreaks are what a multi-line field's line breaks become: LF, the only one stored.
var lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n")

// normalizeText puts s in its stored form: line breaks as LF (multi-line fields only), NFC,
// surrounding white space trimmed. Invalid UTF-8 is left as it is for checkText to refuse.
func normalizeText(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return s
	}
	if multiline {
		s = lineBreaks.Replace(s)
	}
	if !norm.NFC.IsNormalString(s) {
		s = norm.NFC.String(s)
	}
	return strings.TrimSpace(s)
}

// checkText returns the message for the first rule s breaks, or "".
func checkText(s string, r textRule) string {
	if s == "" {
		if r.required {
			return r.label + " is required."
		}
		return ""
	}
	if !utf8.ValidString(s) {
		return r.label + " must be valid UTF-8 text."
	}
	chars, marks, visible := 0, 0, false
	for _, c := range s {
		switch {
		case c == '\n' && r.multiline, c == '\t' && r.multiline:
		case c == '\t' || isLineBreak(c):
			if !r.multiline {
				return fmt.Sprintf("%s must be one line, without line breaks or tabs (found %U).", r.label, c)
			}
			return fmt.Sprintf("%s must not contain control characters other than line breaks and tabs (found %U).", r.label, c)
		case isControl(c):
			if r.multiline {
				return fmt.Sprintf("%s must not contain control characters other than line breaks and tabs (found %U).", r.label, c)
			}
			return fmt.Sprintf("%s must not contain control characters (found %U).", r.label, c)
		case isBidiControl(c):
			return fmt.Sprintf("%s must not contain direction-override characters (found %U).", r.label, c)
		case isNoncharacter(c):
			return fmt.Sprintf("%s must not contain noncharacters such as U+FFFF (found %U).", r.label, c)
		case isTag(c):
			return fmt.Sprintf("%s must not contain invisible tag characters (found %U).", r.label, c)
		}
		if unicode.In(c, unicode.Mn, unicode.Me) {
			if marks++; marks > MaxCombining {
				return fmt.Sprintf("%s must not stack more than %d accents or other combining marks on one character.", r.label, MaxCombining)
			}
			continue
		}
		marks = 0
		if !unicode.Is(unicode.Cf, c) {
			chars++
		}
		if isVisible(c) {
			visible = true
		}
	}
	switch {
	case !visible:
		return r.label + " must contain at least one visible character."
	case chars > r.maxChars:
		return fmt.Sprintf("%s must be at most %d characters.", r.label, r.maxChars)
	case len(s) > r.maxBytes:
		return fmt.Sprintf("%s must be at most %d bytes of UTF-8 (accents and emoji take several).", r.label, r.maxBytes)
	}
	return ""
}

// checkEmailText refuses what an address must never hold, before it is parsed: anything that
// is not a visible, non-space character (zero-width spaces, joiners, BOMs, controls, tags).
func checkEmailText(s string) string {
	if !utf8.ValidString(s) {
		return "Email must be valid UTF-8 text."
	}
	for _, c := range s {
		if !unicode.IsGraphic(c) || unicode.IsSpace(c) || isBlank(c) || isNoncharacter(c) {
			return fmt.Sprintf("Email must not contain spaces or invisible characters (found %U).", c)
		}
	}
	return ""
}

// isLineBreak reports every character that some renderer starts a new line at.
func isLineBreak(c rune) bool {
	switch c {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// isControl reports C0 controls, DEL and C1 controls (NEL U+0085 among them).
func isControl(c rune) bool { return c < 0x20 || c >= 0x7f && c <= 0x9f }

// isBidiControl reports the explicit directional embeddings, overrides and isolates. The
// implicit marks (LRM, RLM, ALM) only nudge neighbouring punctuation and stay allowed.
func isBidiControl(c rune) bool { return c >= 0x202a && c <= 0x202e || c >= 0x2066 && c <= 0x2069 }

// isNoncharacter reports the 66 code points Unicode reserves for internal use.
func isNoncharacter(c rune) bool { return c >= 0xfdd0 && c <= 0xfdef || c&0xfffe == 0xfffe }

// isTag reports the tag characters, which display as nothing.
func isTag(c rune) bool { return c >= 0xe0000 && c <= 0xe007f }

// isBlank reports letters and symbols that display as empty space.
func isBlank(c rune) bool {
	switch c {
	case 0x115f, 0x1160, 0x3164, 0xffa0, // Hangul fillers
		0x2800,  // Braille pattern blank
		0x180e,  // Mongolian vowel separator
		0x1d159: // musical symbol null notehead
		return true
	}
	return false
}

// isVisible reports whether c shows as something: a letter, digit, punctuation or symbol.
// Spaces, marks alone, format characters, private-use and unassigned code points do not.
func isVisible(c rune) bool {
	return unicode.In(c, unicode.L, unicode.N, unicode.P, unicode.S) && !isBlank(c)
}

// OneLine returns s made safe to show on one line of a plain-text rendering: every line break
// (LF, CR, VT, FF, NEL, U+2028, U+2029), tab and other control character becomes a space, and
// direction overrides and tag characters are dropped, so that no part of s can start a line of
// its own or change how the text around it displays. Invalid UTF-8 becomes U+FFFD.
func OneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case isControl(c) || isLineBreak(c):
			b.WriteByte(' ')
		case isBidiControl(c) || isTag(c):
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Lines splits s at every kind of line break (CRLF, LF, CR, VT, FF, NEL, U+2028, U+2029) and
// makes each line safe with OneLine, so a renderer can prefix every line it shows.
func Lines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		c, n := utf8.DecodeRuneInString(s[i:])
		if isLineBreak(c) {
			lines = append(lines, OneLine(s[start:i]))
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				n++
			}
			start = i + n
		}
		i += n
	}
	return append(lines, OneLine(s[start:]))
}
