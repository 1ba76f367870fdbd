package ticket

import (
	"context"
	"slices"
	"strings"
	"time"
)

// People: the responders and admins who sign in and work the tickets, their sessions and
// their API tokens. Reporters do not sign in: a ticket's ID is their capability.

// Role says what a person may do.
type Role string

const (
	// RoleResponder works tickets: the queue, acknowledging, resolving, assigning, notes.
	RoleResponder Role = "responder"
	// RoleAdmin also manages people, integrations and configuration.
	RoleAdmin Role = "admin"
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleResponder, RoleAdmin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Allows reports whether r may do what need requires: an admin may do all a responder may.
func (r Role) Allows(need Role) bool {
	return r.Valid() && slices.Index(Roles, r) >= slices.Index(Roles, need)
}

// User is one person who signs in.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
	// Disabled users cannot sign in; their sessions and tokens stop working at once.
	Disabled bool `json:"disabled"`
	// PasswordHash is the argon2id hash in its PHC string form; empty for people who sign in
	// through single sign-on only. Never sent to a client.
	PasswordHash string `json:"-"`
	// MustChangePassword: the password was a one-time one (first start, a reset); nothing but
	// setting a new one is allowed until then.
	MustChangePassword bool `json:"mustChangePassword"`
	// Subject is the single sign-on identity ("issuer|sub"), when the person has used it.
	Subject    string    `json:"subject,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
	LastSignIn time.Time `json:"lastSignIn,omitzero"`
	Version    int       `json:"version"`
}

// NewUser is what an admin (or the command line) gives to add a person.
type NewUser struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  Role   `json:"role"`
}

// Normalize trims, NFC-normalises and lower-cases the email; the role defaults to responder.
func (n *NewUser) Normalize() {
	n.Email = strings.ToLower(normalizeText(n.Email, false))
	n.Name = normalizeText(n.Name, false)
	if n.Role == "" {
		n.Role = RoleResponder
	}
}

// Validate checks every field, reporting all problems at once.
func (n *NewUser) Validate() error {
	var fe []FieldError
	if msg := checkEmail(n.Email); msg != "" {
		fe = append(fe, FieldError{Field: "email", Message: msg})
	}
	if msg := checkText(n.Name, nameRule); msg != "" {
		fe = append(fe, FieldError{Field: "name", Message: msg})
	}
	if !n.Role.Valid() {
		fe = append(fe, FieldError{Field: "role", Message: "Role must be responder or admin."})
	}
	if len(fe) > 0 {
		return &Error{Code: EINVALID, Message: "The person has invalid fields.", Fields: fe}
	}
	return nil
}

// MinPassword and MaxPassword bound a password (NIST SP 800-63B: length, not composition).
const (
	MinPassword = 12
	MaxPassword = 256
)

// CheckPassword says what is wrong with a new password, or "".
func CheckPassword(p string) string {
	switch n := len([]rune(p)); {
	case n < MinPassword:
		return "Choose a password of at least 12 characters."
	case n > MaxPassword:
		return "Choose a password of at most 256 characters."
	}
	return ""
}

// Identity is who is making a request: a signed-in person (by session, API token or, on AWS,
// a Cognito JWT). Handlers receive it; they never look at credentials themselves.
type Identity struct {
	UserID string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Role   Role   `json:"role"`
	// Via says how: "session", "token" or "jwt".
	Via string `json:"via"`
	// MustChangePassword is carried from the user (sessions only).
	MustChangePassword bool `json:"mustChangePassword,omitempty"`
}

// Session is a signed-in browser. The cookie holds a random secret; the store keeps only its
// SHA-256, so a copy of the database signs nobody in.
type Session struct {
	Hash      string    `json:"-"`
	UserID    string    `json:"userId"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is absolute; LastSeen moves an idle expiry (see the server's settings).
	ExpiresAt time.Time `json:"expiresAt"`
	LastSeen  time.Time `json:"lastSeen"`
}

// APIToken is a per-person bearer token for scripts and integrations: shown once, kept as
// its SHA-256, revocable, with a name and when it was last used.
type APIToken struct {
	ID        string    `json:"id"`
	UserID    string    `json:"userId"`
	Name      string    `json:"name"`
	Hash      string    `json:"-"`
	Prefix    string    `json:"prefix"` // the first characters, to tell tokens apart
	CreatedAt time.Time `json:"createdAt"`
	LastUsed  time.Time `json:"lastUsed,omitzero"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// People keeps users, sessions and API tokens (the embedded server; on AWS people are in
// Cognito). Every implementation passes storetest.RunPeople.
type People interface {
	// CreateUser stores u; an email already in use is ECONFLICT.
	CreateUser(ctx context.Context, u *User) error
	// GetUser, UserByEmail and UserBySubject return ErrUserNotFound when there is none.
	GetUser(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserBySubject(ctx context.Context, subject string) (*User, error)
	// ListUsers returns everyone, by name.
	ListUsers(ctx context.Context) ([]*User, error)
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser applies fn atomically (ErrNoChange writes nothing) and bumps Version.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (*User, error)

	CreateSession(ctx context.Context, s *Session) error
	// Session returns the session with hash, or ErrSessionNotFound (expired ones included).
	Session(ctx context.Context, hash string) (*Session, error)
	// TouchSession moves LastSeen.
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessions ends every session of a user (disabled, password reset).
	DeleteSessions(ctx context.Context, userID string) error

	CreateToken(ctx context.Context, t *APIToken) error
	// TokenByHash returns the token, revoked or not, or ErrTokenNotFound.
	TokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// Tokens lists a user's tokens, newest first.
	Tokens(ctx context.Context, userID string) ([]*APIToken, error)
	// RevokeToken revokes one of a user's tokens (ErrTokenNotFound if it is not theirs).
	RevokeToken(ctx context.Context, userID, id string, at time.Time) error
	// TouchToken records a use.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

var (
	ErrUserNotFound    = &Error{Code: ENOTFOUND, Message: "No such person."}
	ErrSessionNotFound = &Error{Code: EUNAUTHORIZED, Message: "Please sign in."}
	ErrTokenNotFound   = &Error{Code: ENOTFOUND, Message: "No such token."}
	ErrEmailTaken      = &Error{Code: ECONFLICT, Message: "Someone already has this email address.", Fields: []FieldError{{Field: "email", Message: "Already in use."}}}
)
