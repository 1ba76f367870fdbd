package dynamo_test

import (
	"context"
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
	storetest.Run(t, func(t *testing.T) ticket.Store { return open(t, c) }, storetest.Options{PageOrderOnly: true})
}

func TestStoreDynalite(t *testing.T) {
	c := awstest.DynamoDB(awstest.Dynalite(t))
	storetest.Run(t, func(t *testing.T) ticket.Store { return open(t, c) }, storetest.Options{NoTransactions: true, PageOrderOnly: true})
}

// TestListFilteredPages covers what storetest does not: a filtered List whose Scan returns more
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
					got[it.ID] = true
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
