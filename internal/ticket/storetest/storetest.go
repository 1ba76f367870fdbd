// Package storetest is the contract every ticket.Store implementation must pass. Each adapter's
// tests call Run with a constructor that returns a fresh, empty store on a real database.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Options say which optional guarantees an implementation (or its stand-in) offers.
type Options struct {
	// NoTransactions: the backend cannot run the idempotency transaction (dynalite), so the
	// Idempotency-Key cases are left out.
	NoTransactions bool
	// Sorts the store offers besides SortFiled (every store: SortAge too); the others must
	// answer EINVALID.
	Sorts []ticket.Sort
}

// Run runs the contract against stores made by open, one fresh store per subtest.
func Run(t *testing.T, open func(t *testing.T) ticket.Store, opt Options) {
	t.Run("CreateThenGet", func(t *testing.T) { testCreateGet(t, open(t)) })
	t.Run("ErrNotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("ErrConflictOnDuplicateID", func(t *testing.T) { testDuplicateID(t, open(t)) })
	if !opt.NoTransactions {
		t.Run("IdempotentReplay", func(t *testing.T) { testIdempotency(t, open(t)) })
	}
	t.Run("ListPagesNewestFirst", func(t *testing.T) { testListPaging(t, open(t)) })
	t.Run("ListFilters", func(t *testing.T) { testListFilters(t, open(t)) })
	t.Run("ListSearchAndFilters", func(t *testing.T) { testListSearch(t, open(t)) })
	t.Run("ListSorts", func(t *testing.T) { testListSorts(t, open(t), opt) })
	t.Run("ErrInvalidCursor", func(t *testing.T) { testBadCursor(t, open(t)) })
	t.Run("Update", func(t *testing.T) { testUpdate(t, open(t)) })
	t.Run("UpdateConcurrent", func(t *testing.T) { testUpdateConcurrent(t, open(t)) })
	t.Run("Pending", func(t *testing.T) { testPending(t, open(t)) })
	t.Run("Stats", func(t *testing.T) { testStats(t, open(t)) })
	runIntake(t, open, opt)
}

var base = time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC)

// Make returns a valid ticket created at base+offset, with a UUIDv7 id.
func Make(offset time.Duration, sev ticket.Severity) *ticket.Ticket {
	id, err := uuid.NewV7()
	if err != nil {
		panic(err)
	}
	return ticket.New(id.String(), ticket.NewTicket{
		Title:       "Printer on fire " + offset.String(),
		Description: "Smoke from tray 2. Ünïcödé ✓ <b>not html</b>",
		Severity:    sev,
		Category:    "hardware",
		Reporter:    ticket.Reporter{Name: "Ada", Email: "ada@example.com"},
	}, base.Add(offset))
}

func mustCreate(t *testing.T, s ticket.Store, tk *ticket.Ticket) *ticket.Ticket {
	t.Helper()
	got, replayed, err := s.Create(context.Background(), tk, ticket.Idempotency{})
	if err != nil {
		t.Fatalf("Create(%s): %v", tk.ID, err)
	}
	if replayed {
		t.Fatalf("Create(%s) replayed = true without an idempotency key", tk.ID)
	}
	return got
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testCreateGet(t *testing.T, s ticket.Store) {
	want := Make(0, ticket.SeverityHigh)
	stored := mustCreate(t, s, want)
	if got, w := asJSON(t, stored), asJSON(t, want); got != w {
		t.Errorf("Create returned\n got %s\nwant %s", got, w)
	}
	got, err := s.Get(context.Background(), want.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if g, w := asJSON(t, got), asJSON(t, want); g != w {
		t.Errorf("Get after Create\n got %s\nwant %s", g, w)
	}
}

func testNotFound(t *testing.T, s ticket.Store) {
	_, err := s.Get(context.Background(), uuid.NewString())
	if got, want := ticket.ErrorCode(err), ticket.ENOTFOUND; got != want {
		t.Errorf("Get(unknown) code = %q (err %v), want %q", got, err, want)
	}
	_, err = s.Update(context.Background(), uuid.NewString(), func(*ticket.Ticket) error { return nil })
	if got, want := ticket.ErrorCode(err), ticket.ENOTFOUND; got != want {
		t.Errorf("Update(unknown) code = %q (err %v), want %q", got, err, want)
	}
}

func testDuplicateID(t *testing.T, s ticket.Store) {
	first := Make(0, ticket.SeverityLow)
	mustCreate(t, s, first)
	second := Make(time.Second, ticket.SeverityHigh)
	second.ID = first.ID
	_, _, err := s.Create(context.Background(), second, ticket.Idempotency{})
	if got, want := ticket.ErrorCode(err), ticket.ECONFLICT; got != want {
		t.Fatalf("Create(duplicate id) code = %q (err %v), want %q", got, err, want)
	}
	got, err := s.Get(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != first.Title {
		t.Errorf("duplicate Create overwrote the ticket: title %q, want %q", got.Title, first.Title)
	}
}

func testIdempotency(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	idem := ticket.Idempotency{Key: uuid.NewString(), Hash: "h1"}
	first := Make(0, ticket.SeverityMedium)
	got, replayed, err := s.Create(ctx, first, idem)
	if err != nil || replayed {
		t.Fatalf("first Create = replayed %v, err %v; want false, nil", replayed, err)
	}
	second := Make(time.Second, ticket.SeverityMedium)
	got, replayed, err = s.Create(ctx, second, idem)
	if err != nil || !replayed {
		t.Fatalf("replayed Create = replayed %v, err %v; want true, nil", replayed, err)
	}
	if got.ID != first.ID {
		t.Errorf("replay returned ticket %s, want the first one %s", got.ID, first.ID)
	}
	if _, err := s.Get(ctx, second.ID); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("replay stored a second ticket (Get err = %v)", err)
	}
	third := Make(2*time.Second, ticket.SeverityMedium)
	_, _, err = s.Create(ctx, third, ticket.Idempotency{Key: idem.Key, Hash: "h2"})
	if !errors.Is(err, ticket.ErrIdempotencyKeyReused) {
		t.Errorf("key reused with another payload: err %v, want ErrIdempotencyKeyReused", err)
	}
	// A duplicate ID under a new key fails as a whole: the key must not be left pointing at it.
	dup := Make(3*time.Second, ticket.SeverityMedium)
	dup.ID = first.ID
	key := ticket.Idempotency{Key: uuid.NewString(), Hash: "h3"}
	if _, _, err := s.Create(ctx, dup, key); ticket.ErrorCode(err) != ticket.ECONFLICT {
		t.Fatalf("duplicate id under a new key: err %v, want conflict", err)
	}
	fresh := Make(4*time.Second, ticket.SeverityMedium)
	if _, replayed, err := s.Create(ctx, fresh, key); err != nil || replayed {
		t.Errorf("key of a failed Create was kept: replayed %v, err %v", replayed, err)
	}
}

// listAll pages through f and returns the ids in order.
func listAll(t *testing.T, s ticket.Store, f ticket.Filter) (ids []string, pages [][]*ticket.Ticket) {
	t.Helper()
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("List did not terminate after 100 pages")
		}
		p, err := s.List(context.Background(), f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		if f.Limit > 0 && len(p.Items) > f.Limit {
			t.Fatalf("List returned %d items, limit %d", len(p.Items), f.Limit)
		}
		pages = append(pages, p.Items)
		for _, it := range p.Items {
			ids = append(ids, it.ID)
		}
		if p.NextCursor == "" {
			return ids, pages
		}
		f.Cursor = p.NextCursor
	}
}

func testListPaging(t *testing.T, s ticket.Store) {
	var want []string // newest first
	for i := 0; i < 7; i++ {
		tk := Make(time.Duration(i)*time.Minute, ticket.SeverityMedium)
		mustCreate(t, s, tk)
		want = append([]string{tk.ID}, want...)
	}
	got, pages := listAll(t, s, ticket.Filter{Limit: 3})
	if len(got) != len(want) {
		t.Fatalf("paged through %d tickets, want %d (%v)", len(got), len(want), got)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("ticket %s appeared on two pages", id)
		}
		seen[id] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("List order\n got %v\nwant %v", got, want)
	}
	if n := len(pages[0]); n != 3 {
		t.Errorf("first page has %d items, want 3", n)
	}
}

func testListFilters(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	crit := mustCreate(t, s, Make(0, ticket.SeverityCritical))
	mustCreate(t, s, Make(time.Minute, ticket.SeverityLow))
	ack := mustCreate(t, s, Make(2*time.Minute, ticket.SeverityLow))
	if _, err := s.Update(ctx, ack.ID, func(tk *ticket.Ticket) error { return tk.Transition(ticket.StatusAcknowledged, base) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    ticket.Filter
		want []string
	}{
		{"BySeverity", ticket.Filter{Severity: ticket.SeverityCritical}, []string{crit.ID}},
		{"ByStatus", ticket.Filter{Status: ticket.StatusAcknowledged}, []string{ack.ID}},
		{"Both", ticket.Filter{Status: ticket.StatusAcknowledged, Severity: ticket.SeverityLow, Limit: 1}, []string{ack.ID}},
		{"NoMatch", ticket.Filter{Status: ticket.StatusResolved}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := listAll(t, s, tc.f)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func testBadCursor(t *testing.T, s ticket.Store) {
	for i := 0; i < 3; i++ {
		mustCreate(t, s, Make(time.Duration(i)*time.Second, ticket.SeverityLow))
	}
	p, err := s.List(context.Background(), ticket.Filter{Limit: 1})
	if err != nil || p.NextCursor == "" {
		t.Fatalf("List(limit 1) = cursor %q, err %v; want a next cursor", p.NextCursor, err)
	}
	c := []byte(p.NextCursor)
	c[len(c)/2] ^= 1
	for _, bad := range []string{"not-a-cursor", string(c), p.NextCursor + "A"} {
		_, err := s.List(context.Background(), ticket.Filter{Limit: 1, Cursor: bad})
		if got, want := ticket.ErrorCode(err), ticket.EINVALID; got != want {
			t.Errorf("List(cursor %q) code = %q (err %v), want %q", bad, got, err, want)
		}
	}
}

func testUpdate(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	tk := mustCreate(t, s, Make(0, ticket.SeverityHigh))
	got, err := s.Update(ctx, tk.ID, func(x *ticket.Ticket) error {
		if _, err := x.BeginDelivery("exec-1", []string{"outbox", "webhook:a"}, true, base); err != nil {
			return err
		}
		if err := x.ChannelDelivered("outbox", base); err != nil {
			return err
		}
		return x.EndAttempt("exec-1", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 404", Permanent: true}}, base)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got.Version != tk.Version+1 {
		t.Errorf("Version after Update = %d, want %d", got.Version, tk.Version+1)
	}
	if !got.UpdatedAt.After(tk.UpdatedAt) && !got.UpdatedAt.Equal(tk.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %s < %s", got.UpdatedAt, tk.UpdatedAt)
	}
	again, err := s.Get(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := asJSON(t, again), asJSON(t, got); g != w {
		t.Errorf("Get after Update\n got %s\nwant %s", g, w)
	}
	if c := again.Notification.Channel("outbox"); c == nil || c.Status != ticket.NotificationSent || again.Notification.Status != ticket.NotificationPartial {
		t.Errorf("Update not stored: notification %+v", again.Notification)
	}
	// ErrNoChange: nothing written, the ticket returned as it is.
	same, err := s.Update(ctx, tk.ID, func(x *ticket.Ticket) error { x.Title = "not written"; return ticket.ErrNoChange })
	if err != nil || same == nil || same.Version != got.Version || same.Title != tk.Title {
		t.Errorf("Update returning ErrNoChange = %+v, %v; want the stored ticket (version %d) and no error", same, err, got.Version)
	}
	if cur, _ := s.Get(ctx, tk.ID); cur.Version != got.Version || cur.Title != tk.Title {
		t.Errorf("ErrNoChange still wrote: title %q version %d", cur.Title, cur.Version)
	}
	boom := errors.New("boom")
	if _, err := s.Update(ctx, tk.ID, func(x *ticket.Ticket) error { x.Title = "changed"; return boom }); !errors.Is(err, boom) {
		t.Errorf("Update with failing fn: err %v, want %v", err, boom)
	}
	if cur, _ := s.Get(ctx, tk.ID); cur.Title == "changed" || cur.Version != got.Version {
		t.Errorf("failing fn still wrote: title %q version %d", cur.Title, cur.Version)
	}
}

func testUpdateConcurrent(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	tk := mustCreate(t, s, Make(0, ticket.SeverityHigh))
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, tk.ID, func(x *ticket.Ticket) error { x.Notification.Attempts++; return nil })
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Update: %v", err)
		}
	}
	got, err := s.Get(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Notification.Attempts != n || got.Version != tk.Version+n {
		t.Errorf("after %d concurrent increments: attempts %d version %d, want %d and %d (a lost update)", n, got.Notification.Attempts, got.Version, n, tk.Version+n)
	}
}

func testPending(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	old := mustCreate(t, s, Make(0, ticket.SeverityHigh))
	sent := mustCreate(t, s, Make(time.Second, ticket.SeverityHigh))
	if _, err := s.Update(ctx, sent.ID, func(x *ticket.Ticket) error { return x.FailDelivery("", "test", base) }); err != nil {
		t.Fatal(err)
	}
	older := mustCreate(t, s, Make(-time.Hour, ticket.SeverityLow))
	got, err := s.Pending(ctx, time.Now().Add(time.Hour), 10)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	var ids []string
	for _, tk := range got {
		ids = append(ids, tk.ID)
	}
	if want := []string{older.ID, old.ID}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("Pending = %v, want %v (oldest first, no SENT)", ids, want)
	}
	got, err = s.Pending(ctx, base.Add(-time.Hour).Add(-time.Second), 10)
	if err != nil || len(got) != 0 {
		t.Errorf("Pending(before all) = %d tickets, err %v; want none", len(got), err)
	}
	got, err = s.Pending(ctx, time.Now().Add(time.Hour), 1)
	if err != nil || len(got) != 1 {
		t.Errorf("Pending(limit 1) = %d tickets, err %v; want 1", len(got), err)
	}
}

func testStats(t *testing.T, s ticket.Store) {
	ctx := context.Background()
	mustCreate(t, s, Make(0, ticket.SeverityCritical))
	mustCreate(t, s, Make(time.Second, ticket.SeverityLow))
	x := mustCreate(t, s, Make(2*time.Second, ticket.SeverityLow))
	if _, err := s.Update(ctx, x.ID, func(tk *ticket.Ticket) error {
		tk.FailDelivery("", "test", base)
		return tk.Transition(ticket.StatusResolved, base)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := ticket.NewStats()
	want.Total = 3
	want.ByStatus[ticket.StatusOpen], want.ByStatus[ticket.StatusResolved] = 2, 1
	want.BySeverity[ticket.SeverityCritical], want.BySeverity[ticket.SeverityLow] = 1, 2
	want.ByNotification[ticket.NotificationPending], want.ByNotification[ticket.NotificationFailed] = 2, 1
	if g, w := asJSON(t, got), asJSON(t, want); g != w {
		t.Errorf("Stats\n got %s\nwant %s", g, w)
	}
}

// corpusOfTickets files a small, varied set of tickets and returns them as stored.
func corpusOfTickets(t *testing.T, s ticket.Store) []*ticket.Ticket {
	ctx := context.Background()
	specs := []struct {
		title, desc, category, email string
		sev                          ticket.Severity
	}{
		{"VPN down in Lyon", "Cannot connect since 9:00", "Network", "ada@example.com", ticket.SeverityCritical},
		{"Printer jammed", "Tray 2 is stuck", "hardware", "grace@example.org", ticket.SeverityLow},
		{"Payroll export fails", "The CSV is empty; \"quoted\" words * and NEAR(x)", "finance", "alan@example.net", ticket.SeverityHigh},
		{"VPN slow", "Latency over 900 ms", "network", "ada@example.com", ticket.SeverityMedium},
		{"Laptop überhitzt", "Lüfter laut", "Hardware", "kurt@example.de", ticket.SeverityHigh},
		{"Wiki page missing", "", "", "ada@example.com", ticket.SeverityLow},
	}
	var out []*ticket.Ticket
	for i, sp := range specs {
		tk := Make(time.Duration(i)*time.Minute, sp.sev)
		tk.Title, tk.Description, tk.Category, tk.Reporter.Email = sp.title, sp.desc, sp.category, sp.email
		out = append(out, mustCreate(t, s, tk))
	}
	// Some change later: acknowledged, and deliveries ended.
	changed := func(i int, fn func(*ticket.Ticket) error) {
		got, err := s.Update(ctx, out[i].ID, fn)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got
	}
	changed(0, func(x *ticket.Ticket) error { return x.Transition(ticket.StatusAcknowledged, base) })
	changed(1, func(x *ticket.Ticket) error { return x.FailDelivery("", "test", base) })
	changed(3, func(x *ticket.Ticket) error {
		x.BeginDelivery("e", []string{"outbox", "webhook:a"}, true, base)
		x.ChannelDelivered("outbox", base)
		return x.EndAttempt("e", []ticket.ChannelOutcome{{Channel: "webhook:a", Error: "HTTP 404", Permanent: true}}, base)
	})
	return out
}

func testListSearch(t *testing.T, s ticket.Store) {
	all := corpusOfTickets(t, s)
	pick := func(idx ...int) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- { // newest first
			for _, j := range idx {
				if i == j {
					out = append(out, all[i].ID)
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    ticket.Filter
		want []string
	}{
		{"QueryWord", ticket.Filter{Query: "vpn"}, pick(0, 3)},
		{"QueryEveryWord", ticket.Filter{Query: "VPN lyon"}, pick(0)},
		{"QueryPrefix", ticket.Filter{Query: "pay"}, pick(2)},
		{"QueryDescription", ticket.Filter{Query: "tray"}, pick(1)},
		{"QueryEmail", ticket.Filter{Query: "ada@example.com"}, pick(0, 3, 5)},
		{"QueryID", ticket.Filter{Query: all[4].ID}, pick(4)},
		{"QueryAccents", ticket.Filter{Query: "überhitzt"}, pick(4)},
		{"QuerySyntaxIsText", ticket.Filter{Query: `"quoted" * NEAR(x)`}, pick(2)},
		{"QueryNothing", ticket.Filter{Query: "kerberos"}, nil},
		{"Notification", ticket.Filter{Notification: ticket.NotificationPartial}, pick(3)},
		{"NotificationFailed", ticket.Filter{Notification: ticket.NotificationFailed}, pick(1)},
		{"CategoryAnyCase", ticket.Filter{Category: "HARDWARE"}, pick(1, 4)},
		{"CreatedRange", ticket.Filter{CreatedFrom: base.Add(time.Minute), CreatedTo: base.Add(3 * time.Minute)}, pick(1, 2)},
		{"QueryAndFilter", ticket.Filter{Query: "vpn", Status: ticket.StatusOpen}, pick(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := listAll(t, s, tc.f)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("List(%+v)\n got %v\nwant %v", tc.f, got, tc.want)
			}
			// The one definition of the filter agrees.
			var byMatch []string
			for i := len(all) - 1; i >= 0; i-- {
				if tc.f.Matches(all[i]) {
					byMatch = append(byMatch, all[i].ID)
				}
			}
			if fmt.Sprint(byMatch) != fmt.Sprint(tc.want) {
				t.Errorf("Filter.Matches selects %v, want %v", byMatch, tc.want)
			}
		})
	}
	t.Run("UpdatedSince", func(t *testing.T) {
		p, err := s.List(context.Background(), ticket.Filter{UpdatedSince: all[3].UpdatedAt.Add(-time.Nanosecond), Sort: ticket.SortFiled})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range p.Items {
			found = found || it.ID == all[3].ID
			if !it.UpdatedAt.After(all[3].UpdatedAt.Add(-time.Nanosecond)) {
				t.Errorf("UpdatedSince returned %s updated %s, before the bound", it.ID, it.UpdatedAt)
			}
		}
		if !found {
			t.Errorf("UpdatedSince did not return the ticket changed last")
		}
	})
	t.Run("Total", func(t *testing.T) {
		p, err := s.List(context.Background(), ticket.Filter{Query: "vpn", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != -1 && (p.Total != 2 || !p.TotalExact) {
			t.Errorf("Total = %d (exact %v), want 2 (or -1: not counted)", p.Total, p.TotalExact)
		}
	})
}

func testListSorts(t *testing.T, s ticket.Store, opt Options) {
	all := corpusOfTickets(t, s)
	offered := map[ticket.Sort]bool{ticket.SortFiled: true, ticket.SortAge: true}
	for _, so := range opt.Sorts {
		offered[so] = true
	}
	for _, so := range ticket.Sorts {
		t.Run(string(so), func(t *testing.T) {
			if !offered[so] {
				_, err := s.List(context.Background(), ticket.Filter{Sort: so})
				if ticket.ErrorCode(err) != ticket.EINVALID {
					t.Errorf("List(sort %s) = %v, want EINVALID (not offered here)", so, err)
				}
				return
			}
			want := append([]*ticket.Ticket(nil), all...)
			sort.SliceStable(want, func(i, j int) bool {
				a, b := want[i], want[j]
				switch so {
				case ticket.SortAge:
					return a.CreatedAt.Before(b.CreatedAt)
				case ticket.SortUpdated:
					if !a.UpdatedAt.Equal(b.UpdatedAt) {
						return a.UpdatedAt.After(b.UpdatedAt)
					}
					return a.ID > b.ID
				case ticket.SortSeverity:
					if a.Severity.Rank() != b.Severity.Rank() {
						return a.Severity.Rank() < b.Severity.Rank()
					}
				}
				return a.CreatedAt.After(b.CreatedAt)
			})
			got, _ := listAll(t, s, ticket.Filter{Sort: so, Limit: 2})
			if fmt.Sprint(got) != fmt.Sprint(ids(want)) {
				t.Errorf("List(sort %s, 2 a page)\n got %v\nwant %v", so, got, ids(want))
			}
		})
	}
	// A cursor of one sort is refused by another.
	p, err := s.List(context.Background(), ticket.Filter{Sort: ticket.SortAge, Limit: 2})
	if err != nil || p.NextCursor == "" {
		t.Fatalf("List(age) = %v, %v", p.NextCursor, err)
	}
	if _, err := s.List(context.Background(), ticket.Filter{Sort: ticket.SortFiled, Limit: 2, Cursor: p.NextCursor}); ticket.ErrorCode(err) != ticket.EINVALID {
		t.Errorf("a cursor of another sort: %v, want EINVALID", err)
	}
}
