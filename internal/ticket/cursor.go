package ticket

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// Cursor seals a store's paging position into an opaque, tamper-evident string: the position
// as JSON, then an HMAC-SHA256 tag, base64url-encoded. A client can neither read a meaningful
// structure out of it nor forge one that a store would follow.
type Cursor struct{ key []byte }

// NewCursor returns a codec keyed by key (at least 16 random bytes; keep it stable across
// restarts and Lambda instances so cursors stay valid).
func NewCursor(key []byte) *Cursor { return &Cursor{key: append([]byte(nil), key...)} }

const tagSize = 16

// Encode seals pos.
func (c *Cursor) Encode(pos any) (string, error) {
	b, err := json.Marshal(pos)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(append(b, c.tag(b)...)), nil
}

// Decode opens s into pos. Anything malformed or tampered with is an EINVALID error.
func (c *Cursor) Decode(s string, pos any) error {
	bad := &Error{Code: EINVALID, Message: "The cursor is not valid.", Fields: []FieldError{{Field: "cursor", Message: "Use the nextCursor of a previous page unchanged."}}}
	// Strict: one string per position, so no altered cursor (not even unused trailing bits)
	// is accepted.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) <= tagSize {
		return bad
	}
	b, tag := raw[:len(raw)-tagSize], raw[len(raw)-tagSize:]
	if !hmac.Equal(tag, c.tag(b)) {
		return bad
	}
	if json.Unmarshal(b, pos) != nil {
		return bad
	}
	return nil
}

func (c *Cursor) tag(b []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(b)
	return m.Sum(nil)[:tagSize]
}
