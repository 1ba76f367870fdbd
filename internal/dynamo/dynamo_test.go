package dynamo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/dynamo"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/ticket/storetest"
)

var cursorKey = []byte("0123456789abcdef0123456789abcdef")

// open returns a store on a fresh table of the stand-in at endpoint.
func open(t *testing.T, c *dynamodb.Client) *dynamo.Store {
	table := "tickets-" + uuid.NewString()[:8]
	awstest.CreateTable(t, c, dynamo.TableInput(table))
	return dynamo.NewStore(c, table, cursorKey)
}

func TestStoreMinidyn(t *testing.T) {
	c := awstest.DynamoDB(awstest.Minidyn(t))
	storetest.Run(t, func(t *testing.T) ticket.Store { return open(t, c) }, storetest.Options{})
}

func TestStoreDynalite(t *testing.T) {
	c := awstest.DynamoDB(awstest.Dynalite(t))
	storetest.Run(t, func(t *testing.T) ticket.Store { return open(t, c) }, storetest.Options{NoTransactions: true})
}

// TestListFilteredPages covers what storetest does not: a filtered List whose Query returns more
// matches than the page holds must resume after the last ticket it kept, losing none.
func TestListFilteredPages(t *testing.T) {
	for name, endpoint := range map[string]func(testing.TB) string{"minidyn": awstest.Minidyn, "dynalite": awstest.Dynalite} {
		t.Run(name, func(t *testing.T) {
			s := open(t, awstest.DynamoDB(endpoint(t)))
			ctx := context.Background()
			want := map[string]bool{}
			for i := 0; i < 12; i++ {
				sev := ticket.SeverityLow
				if i%3 != 0 {
					sev = ticket.SeverityHigh
				}
				tk := storetest.Make(time.Duration(i)*time.Second, sev)
				if _, _, err := s.Create(ctx, tk, ticket.Idempotency{}); err != nil {
					t.Fatal(err)
				}
				if sev == ticket.SeverityHigh {
					want[tk.ID] = true
				}
			}
			got := map[string]bool{}
			var last *ticket.Ticket
			f := ticket.Filter{Severity: ticket.SeverityHigh, Limit: 3}
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("List did not end")
				}
				p, err := s.List(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(p.Items) > 3 {
					t.Fatalf("page has %d items, limit 3", len(p.Items))
				}
				for _, it := range p.Items {
					if got[it.ID] || it.Severity != ticket.SeverityHigh {
						t.Fatalf("ticket %s (%s) listed twice or unfiltered", it.ID, it.Severity)
					}
					if last != nil && it.CreatedAt.After(last.CreatedAt) {
						t.Errorf("ticket of %s listed after one of %s: not newest first across pages", it.CreatedAt, last.CreatedAt)
					}
					got[it.ID], last = true, it
				}
				if p.NextCursor == "" {
					break
				}
				f.Cursor = p.NextCursor
			}
			if len(got) != len(want) {
				t.Errorf("listed %d high tickets, want %d", len(got), len(want))
			}
		})
	}
}

// TestIdempotencyItemsHidden: the key records share the table but are never tickets.
func TestIdempotencyItemsHidden(t *testing.T) {
	s := open(t, awstest.DynamoDB(awstest.Minidyn(t)))
	ctx := context.Background()
	key := uuid.NewString()
	if _, _, err := s.Create(ctx, storetest.Make(0, ticket.SeverityLow), ticket.Idempotency{Key: key, Hash: "h"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.List(ctx, ticket.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(p.Items), 1; got != want {
		t.Errorf("List = %d items, want %d (the key record leaked)", got, want)
	}
	if _, err := s.Get(ctx, "idem#"+key); ticket.ErrorCode(err) != ticket.ENOTFOUND {
		t.Errorf("Get(key record) err = %v, want not found", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Total, 1; got != want {
		t.Errorf("Stats.Total = %d, want %d", got, want)
	}
}

// TestListAcrossMonths: List walks the list index month by month, newest month first, through
// months with no ticket, across pages and with filters, down to the oldest month.
func TestListAcrossMonths(t *testing.T) {
	for name, endpoint := range map[string]func(testing.TB) string{"minidyn": awstest.Minidyn, "dynalite": awstest.Dynalite} {
		t.Run(name, func(t *testing.T) {
			s := open(t, awstest.DynamoDB(endpoint(t)))
			s.Now = func() time.Time { return time.Date(2027, 2, 10, 12, 0, 0, 0, time.UTC) }
			ctx := context.Background()
			var want, wantHigh []string // newest first
			// Months 2026-01 (the oldest the index holds), 2026-04, 2026-05, 2026-12, 2027-02;
			// the months between hold nothing.
			for i, at := range []time.Time{
				time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
				time.Date(2026, 4, 30, 23, 59, 59, 0, time.UTC),
				time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
				time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC),
				time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC),
				time.Date(2027, 2, 10, 11, 0, 0, 0, time.UTC),
			} {
				sev := ticket.SeverityLow
				if i%2 == 0 {
					sev = ticket.SeverityHigh
				}
				tk := storetest.Make(0, sev)
				tk.CreatedAt, tk.UpdatedAt = at, at
				if _, _, err := s.Create(ctx, tk, ticket.Idempotency{}); err != nil {
					t.Fatal(err)
				}
				want = append([]string{tk.ID}, want...)
				if sev == ticket.SeverityHigh {
					wantHigh = append([]string{tk.ID}, wantHigh...)
				}
			}
			for _, tc := range []struct {
				name string
				f    ticket.Filter
				want []string
			}{
				{"OnePerPage", ticket.Filter{Limit: 1}, want},
				{"TwoPerPage", ticket.Filter{Limit: 2}, want},
				{"OnePage", ticket.Filter{}, want},
				{"Filtered", ticket.Filter{Severity: ticket.SeverityHigh, Limit: 2}, wantHigh},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var got []string
					f := tc.f
					for pages := 0; ; pages++ {
						if pages > 20 {
							t.Fatal("List did not end")
						}
						p, err := s.List(ctx, f)
						if err != nil {
							t.Fatal(err)
						}
						for _, it := range p.Items {
							got = append(got, it.ID)
						}
						if p.NextCursor == "" {
							break
						}
						f.Cursor = p.NextCursor
					}
					if fmt.Sprint(got) != fmt.Sprint(tc.want) {
						t.Errorf("List(%+v) order\n got %v\nwant %v", tc.f, got, tc.want)
					}
				})
			}
		})
	}
}

// TestListCursorOfScanIsInvalid: a cursor sealed with the right key but holding no month (as
// the Scan-based List made them) is refused, not followed from the start.
func TestListCursorOfScanIsInvalid(t *testing.T) {
	s := open(t, awstest.DynamoDB(awstest.Minidyn(t)))
	old, err := ticket.NewCursor(cursorKey).Encode(map[string]string{"id": uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.List(context.Background(), ticket.Filter{Cursor: old})
	if got, want := ticket.ErrorCode(err), ticket.EINVALID; got != want {
		t.Errorf("List(old cursor) code = %q (err %v), want %q", got, err, want)
	}
}

func TestIntegrationsMinidyn(t *testing.T) {
	c := awstest.DynamoDB(awstest.Minidyn(t))
	storetest.RunIntegrations(t, func(t *testing.T) ticket.IntegrationStore {
		s := open(t, c)
		return dynamo.NewIntegrations(c, s.Table())
	})
}

func TestIntegrationsDynalite(t *testing.T) {
	c := awstest.DynamoDB(awstest.Dynalite(t))
	storetest.RunIntegrations(t, func(t *testing.T) ticket.IntegrationStore {
		s := open(t, c)
		return dynamo.NewIntegrations(c, s.Table())
	})
}
