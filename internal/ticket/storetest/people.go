package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// RunPeople is the contract of ticket.People: users, sessions and API tokens.
func RunPeople(t *testing.T, open func(t *testing.T) ticket.People) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, open(t)) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open(t)) })
}

// MakeUser returns a valid user with a fresh ID.
func MakeUser(email, name string, role ticket.Role) *ticket.User {
	return &ticket.User{ID: uuid.NewString(), Email: email, Name: name, Role: role, PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA", CreatedAt: base, UpdatedAt: base, Version: 1}
}

func testUsers(t *testing.T, p ticket.People) {
	ctx := context.Background()
	grace := MakeUser("grace@example.org", "Grace", ticket.RoleAdmin)
	ada := MakeUser("ada@example.org", "ada", ticket.RoleResponder)
	for _, u := range []*ticket.User{grace, ada} {
		if err := p.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Email, err)
		}
	}
	dup := MakeUser("ada@example.org", "Another Ada", ticket.RoleResponder)
	if err := p.CreateUser(ctx, dup); !errors.Is(err, ticket.ErrEmailTaken) {
		t.Errorf("CreateUser with an email in use = %v, want ErrEmailTaken", err)
	}
	got, err := p.UserByEmail(ctx, "grace@example.org")
	if err != nil || got.ID != grace.ID || got.Role != ticket.RoleAdmin || got.PasswordHash != grace.PasswordHash {
		t.Errorf("UserByEmail = %+v, %v; want Grace as stored, with her hash", got, err)
	}
	if _, err := p.GetUser(ctx, uuid.NewString()); !errors.Is(err, ticket.ErrUserNotFound) {
		t.Errorf("GetUser(unknown) = %v, want ErrUserNotFound", err)
	}
	up, err := p.UpdateUser(ctx, ada.ID, func(u *ticket.User) error {
		u.Disabled, u.Subject, u.LastSignIn = true, "https://idp.example|ada-1", base.Add(time.Hour)
		return nil
	})
	if err != nil || up.Version != 2 || !up.Disabled {
		t.Fatalf("UpdateUser = %+v, %v; want version 2, disabled", up, err)
	}
	bySub, err := p.UserBySubject(ctx, "https://idp.example|ada-1")
	if err != nil || bySub.ID != ada.ID || !bySub.LastSignIn.Equal(base.Add(time.Hour)) || !bySub.Disabled {
		t.Errorf("UserBySubject = %+v, %v; want Ada as updated", bySub, err)
	}
	if same, err := p.UpdateUser(ctx, ada.ID, func(u *ticket.User) error { u.Name = "x"; return ticket.ErrNoChange }); err != nil || same.Version != 2 || same.Name != "ada" {
		t.Errorf("UpdateUser with ErrNoChange = %+v, %v; want nothing written", same, err)
	}
	if _, err := p.UpdateUser(ctx, ada.ID, func(u *ticket.User) error { u.Email = "grace@example.org"; return nil }); !errors.Is(err, ticket.ErrEmailTaken) {
		t.Errorf("changing to an email in use = %v, want ErrEmailTaken", err)
	}
	list, err := p.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].ID != ada.ID {
		t.Errorf("ListUsers = %d users (%v), want 2 by name, ada first regardless of case", len(list), err)
	}
	if n, err := p.CountUsers(ctx); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v", n, err)
	}
}

func testSessions(t *testing.T, p ticket.People) {
	ctx := context.Background()
	u := MakeUser("ada@example.org", "Ada", ticket.RoleResponder)
	p.CreateUser(ctx, u)
	a := &ticket.Session{Hash: "hash-a", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(12 * time.Hour), LastSeen: base}
	b := &ticket.Session{Hash: "hash-b", UserID: u.ID, CreatedAt: base, ExpiresAt: base.Add(12 * time.Hour), LastSeen: base}
	for _, s := range []*ticket.Session{a, b} {
		if err := p.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.TouchSession(ctx, "hash-a", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := p.Session(ctx, "hash-a")
	if err != nil || got.UserID != u.ID || !got.LastSeen.Equal(base.Add(time.Minute)) || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if err := p.DeleteSession(ctx, "hash-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Session(ctx, "hash-a"); !errors.Is(err, ticket.ErrSessionNotFound) {
		t.Errorf("a deleted session = %v, want ErrSessionNotFound", err)
	}
	if err := p.DeleteSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Session(ctx, "hash-b"); !errors.Is(err, ticket.ErrSessionNotFound) {
		t.Errorf("a session after DeleteSessions = %v, want ErrSessionNotFound", err)
	}
}

func testTokens(t *testing.T, p ticket.People) {
	ctx := context.Background()
	u, other := MakeUser("ada@example.org", "Ada", ticket.RoleAdmin), MakeUser("bob@example.org", "Bob", ticket.RoleResponder)
	p.CreateUser(ctx, u)
	p.CreateUser(ctx, other)
	first := &ticket.APIToken{ID: uuid.NewString(), UserID: u.ID, Name: "ci", Hash: "h1", Prefix: "im_abcd", CreatedAt: base}
	second := &ticket.APIToken{ID: uuid.NewString(), UserID: u.ID, Name: "grafana", Hash: "h2", Prefix: "im_efgh", CreatedAt: base.Add(time.Minute)}
	for _, tk := range []*ticket.APIToken{first, second} {
		if err := p.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	got, err := p.TokenByHash(ctx, "h1")
	if err != nil || got.ID != first.ID || got.Name != "ci" || !got.RevokedAt.IsZero() {
		t.Errorf("TokenByHash = %+v, %v", got, err)
	}
	if err := p.TouchToken(ctx, first.ID, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	list, err := p.Tokens(ctx, u.ID)
	if err != nil || len(list) != 2 || list[0].ID != second.ID || !list[1].LastUsed.Equal(base.Add(time.Hour)) {
		t.Errorf("Tokens = %+v, %v; want two, newest first, the first used", list, err)
	}
	if err := p.RevokeToken(ctx, other.ID, first.ID, base); !errors.Is(err, ticket.ErrTokenNotFound) {
		t.Errorf("revoking someone else's token = %v, want ErrTokenNotFound", err)
	}
	if err := p.RevokeToken(ctx, u.ID, first.ID, base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.TokenByHash(ctx, "h1"); got == nil || !got.RevokedAt.Equal(base.Add(2*time.Hour)) {
		t.Errorf("a revoked token = %+v, want RevokedAt set", got)
	}
	if _, err := p.TokenByHash(ctx, "nope"); !errors.Is(err, ticket.ErrTokenNotFound) {
		t.Errorf("TokenByHash(unknown) = %v, want ErrTokenNotFound", err)
	}
}
