package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// template is one ticket the real server filed and notified, with its execution: the seeded
// tickets are copies of it, so they weigh what the product's own records weigh.
type template struct {
	ticket    *ticket.Ticket
	execution *ticket.Execution
}

// readTemplate reads ticket id and its latest execution from the (stopped) server's database.
func readTemplate(ctx context.Context, dataDir, id string) (*template, error) {
	db, store, execs, err := openData(dataDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	t, err := store.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("template ticket %s: %w", id, err)
	}
	if !t.Notification.Status.Final() {
		return nil, fmt.Errorf("template ticket %s: notification is %s, want it finished", id, t.Notification.Status)
	}
	x, err := execs.LatestExecution(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("template execution %s: %w", id, err)
	}
	return &template{ticket: t, execution: x}, nil
}

// openData opens the database of a data directory through the project's own store, as
// `incidents serve` does.
func openData(dataDir string) (*sqlite.DB, *sqlite.Store, *sqlite.Executions, error) {
	key, err := os.ReadFile(filepath.Join(dataDir, "cursor-key"))
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := sqlite.Open(filepath.Join(dataDir, "incidents.db"), nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return db, sqlite.NewStore(db, []byte(strings.TrimSpace(string(key)))), sqlite.NewExecutions(db), nil
}

// seeder adds copies of a template to a stopped server's data directory, fast: straight into
// the store (Store.Create and SaveExecution from many goroutines, so the store's group commit
// writes hundreds per transaction), not through HTTP.
type seeder struct {
	tmpl *template
	// newest is the creation time of the first seeded ticket; each next one is spacing older,
	// so the tickets filed over HTTP during the runs stay the newest.
	newest  time.Time
	spacing time.Duration
	// seeded counts the tickets seeded so far, across calls.
	seeded int
	// sample keeps up to sampleSize seeded IDs (reservoir sampling) for GET /ticket/{id}.
	sample []string
	kept   int
	rng    *rand.Rand
}

const (
	sampleSize    = 2000
	seedWriters   = 512
	seedRetention = 7 * 24 * time.Hour // every seeded ticket is younger than this
)

func newSeeder(tmpl *template, newest time.Time, maxTickets int) *seeder {
	return &seeder{tmpl: tmpl, newest: newest, spacing: seedRetention / time.Duration(max(maxTickets, 1)), rng: rand.New(rand.NewPCG(1, 2))}
}

// seed adds n tickets, each with a finished notification and its execution record.
func (s *seeder) seed(ctx context.Context, dataDir string, n int) error {
	db, store, execs, err := openData(dataDir)
	if err != nil {
		return err
	}
	jobs := make(chan int, seedWriters)
	ids := make(chan string, seedWriters)
	var (
		wg       sync.WaitGroup
		failed   atomic.Pointer[error]
		sampleWG sync.WaitGroup
	)
	sampleWG.Go(func() {
		for id := range ids {
			s.keep(id)
		}
	})
	for range seedWriters {
		wg.Go(func() {
			for i := range jobs {
				if failed.Load() != nil {
					continue
				}
				t, x := s.copyOf(i)
				if _, _, err := store.Create(ctx, t, idempotencyFor(t)); err != nil {
					failed.CompareAndSwap(nil, &err)
					continue
				}
				if err := execs.SaveExecution(ctx, x); err != nil {
					failed.CompareAndSwap(nil, &err)
					continue
				}
				ids <- t.ID
			}
		})
	}
	for i := s.seeded; i < s.seeded+n && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(ids)
	sampleWG.Wait()
	s.seeded += n
	cerr := db.Close()
	if e := failed.Load(); e != nil {
		return fmt.Errorf("seed: %w", *e)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return cerr
}

func (s *seeder) keep(id string) {
	s.kept++
	if len(s.sample) < sampleSize {
		s.sample = append(s.sample, id)
	} else if j := s.rng.IntN(s.kept); j < sampleSize {
		s.sample[j] = id
	}
}

// idempotencyFor gives a seeded ticket the Idempotency-Key row the web app's submission
// would have left.
func idempotencyFor(t *ticket.Ticket) ticket.Idempotency {
	sum := sha256.Sum256([]byte(t.ID))
	return ticket.Idempotency{Key: uuid.NewString(), Hash: hex.EncodeToString(sum[:])}
}

// copyOf returns the i-th seeded ticket and its execution: the template moved to its own ID
// and time, with a severity and status that vary as a real queue's do (most old tickets are
// resolved).
func (s *seeder) copyOf(i int) (*ticket.Ticket, *ticket.Execution) {
	src, sx := s.tmpl.ticket, s.tmpl.execution
	id := uuid.Must(uuid.NewV7()).String()
	at := s.newest.Add(-time.Duration(i) * s.spacing)
	shift := at.Sub(src.CreatedAt)
	move := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(shift)
	}

	t := *src
	t.ID = id
	t.CreatedAt, t.UpdatedAt = at, move(src.UpdatedAt)
	t.Severity = ticket.Severities[i%len(ticket.Severities)]
	t.Timeline = make([]ticket.TimelineEntry, len(src.Timeline))
	for j, e := range src.Timeline {
		e.At = move(e.At)
		t.Timeline[j] = e
	}
	n := src.Notification
	n.Execution = strings.ReplaceAll(n.Execution, src.ID, id)
	n.FinishedAt = move(n.FinishedAt)
	n.Channels = make([]ticket.ChannelDelivery, len(src.Notification.Channels))
	for j, c := range src.Notification.Channels {
		c.SentAt = move(c.SentAt)
		n.Channels[j] = c
	}
	t.Notification = n
	switch i % 10 {
	case 0:
	case 1, 2:
		t.UpdatedAt = t.UpdatedAt.Add(time.Minute)
		t.Transition(ticket.StatusAcknowledged, t.UpdatedAt)
		t.Version++
	default:
		t.UpdatedAt = t.UpdatedAt.Add(time.Hour)
		t.Transition(ticket.StatusResolved, t.UpdatedAt)
		t.Version++
	}

	x := *sx
	x.Name = id
	x.ExecutionArn = strings.ReplaceAll(sx.ExecutionArn, src.ID, id)
	x.StartDate = move(sx.StartDate)
	if sx.StopDate != nil {
		stop := move(*sx.StopDate)
		x.StopDate = &stop
	}
	old, repl := []byte(src.ID), []byte(id)
	x.Input = bytes.ReplaceAll(sx.Input, old, repl)
	x.Output = bytes.ReplaceAll(sx.Output, old, repl)
	x.Events = make([]json.RawMessage, len(sx.Events))
	for j, e := range sx.Events {
		x.Events[j] = bytes.ReplaceAll(e, old, repl)
	}
	return &t, &x
}

// dataBytes is the size of the database files in a data directory (main file and WAL).
func dataBytes(dataDir string) int64 {
	var total int64
	for _, f := range []string{"incidents.db", "incidents.db-wal"} {
		if st, err := os.Stat(filepath.Join(dataDir, f)); err == nil {
			total += st.Size()
		}
	}
	return total
}
