package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/tasks"
)

// Runner runs the workflow in the embedded server. It is the local ticket.Starter: Start
// queues an execution and returns at once; a few workers run them; a sweeper re-starts
// tickets left PENDING (after a crash, or when the queue was full).
type Runner struct {
	machine    *asl.Machine
	invoker    asl.Invoker
	store      ticket.Store
	executions ticket.ExecutionStore
	log        *slog.Logger
	clock      asl.Clock
	workers    int
	sweepEvery time.Duration
	// staleAfter is how long a PENDING ticket must sit untouched before the periodic sweep
	// starts it again (the startup sweep takes every PENDING ticket).
	staleAfter time.Duration

	queue    chan *ticket.Ticket
	mu       sync.Mutex
	inFlight map[string]bool
	running  sync.WaitGroup
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	Machine    *asl.Machine
	Invoker    asl.Invoker
	Store      ticket.Store
	Executions ticket.ExecutionStore
	Log        *slog.Logger
	Clock      asl.Clock // default asl.RealClock
	Workers    int       // default 4
	QueueSize  int       // default 1024
	SweepEvery time.Duration
	StaleAfter time.Duration
}

// NewRunner returns a runner; call Run to start its workers.
func NewRunner(c RunnerConfig) *Runner {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = asl.RealClock
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = 30 * time.Second
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = tasks.DefaultStaleAfter
	}
	return &Runner{
		machine: c.Machine, invoker: c.Invoker, store: c.Store, executions: c.Executions,
		log: c.Log, clock: c.Clock, workers: c.Workers, sweepEvery: c.SweepEvery, staleAfter: c.StaleAfter,
		queue: make(chan *ticket.Ticket, c.QueueSize), inFlight: map[string]bool{},
	}
}

var _ ticket.Starter = (*Runner)(nil)

// ErrQueueFull is returned by Start when the runner is saturated; the ticket stays PENDING.
var ErrQueueFull = errors.New("workflow queue is full")

// Start implements ticket.Starter. The execution name is the ticket ID.
func (r *Runner) Start(ctx context.Context, t *ticket.Ticket) (string, error) {
	r.mu.Lock()
	if r.inFlight[t.ID] {
		r.mu.Unlock()
		return t.ID, nil
	}
	r.inFlight[t.ID] = true
	r.mu.Unlock()
	select {
	case r.queue <- t:
		return t.ID, nil
	default:
		r.done(t.ID)
		return "", ErrQueueFull
	}
}

func (r *Runner) done(id string) {
	r.mu.Lock()
	delete(r.inFlight, id)
	r.mu.Unlock()
}

// Run sweeps once (tickets left PENDING by a previous process), then runs workers and the
// periodic sweeper until ctx is done, and waits for the executions in progress to stop.
func (r *Runner) Run(ctx context.Context) {
	for i := 0; i < r.workers; i++ {
		r.running.Add(1)
		go func() {
			defer r.running.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-r.queue:
					r.Execute(ctx, t)
					r.done(t.ID)
				}
			}
		}()
	}
	r.sweep(ctx, r.clock.Now())
	tick := time.NewTicker(r.sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			r.running.Wait()
			return
		case <-tick.C:
			r.sweep(ctx, r.clock.Now().Add(-r.staleAfter))
		}
	}
}

// sweep starts the workflow again for tickets PENDING since before, counting and bounding
// the restarts on each ticket exactly as the AWS sweeper Lambda does.
func (r *Runner) sweep(ctx context.Context, before time.Time) {
	const batch = 100
	sw := &tasks.Sweep{Store: r.store, Starter: r, Now: r.clock.Now, Log: r.log, Batch: batch}
	total := 0
	for {
		res, err := sw.Before(ctx, before)
		total += len(res.Restarted)
		if err != nil {
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "sweep pending tickets", "err", err)
			}
			break
		}
		// A full batch may leave more behind: each restart moved its ticket past before.
		if len(res.Restarted)+len(res.GaveUp) < batch {
			break
		}
	}
	if total > 0 {
		r.log.InfoContext(ctx, "sweeper restarted notifications", "count", total)
	}
}

// Execute runs one execution for t to its end, recording its history as it goes.
func (r *Runner) Execute(ctx context.Context, t *ticket.Ticket) *ticket.Execution {
	input, err := json.Marshal(t)
	if err != nil {
		r.log.ErrorContext(ctx, "encode workflow input", "ticketId", t.ID, "err", err)
		return nil
	}
	rec := &ticket.Execution{
		ExecutionArn:    executionArn(t.ID),
		StateMachineArn: LocalStateMachineArn,
		Name:            t.ID,
		Status:          asl.StatusRunning,
		StartDate:       r.clock.Now().UTC(),
		Input:           input,
	}
	log := r.log.With("ticketId", t.ID, "execution", rec.ExecutionArn)
	save := func() {
		// Saved even when ctx is canceled, so a shutdown leaves a truthful record.
		if err := r.executions.SaveExecution(context.WithoutCancel(ctx), rec); err != nil {
			log.ErrorContext(ctx, "save execution", "err", err)
		}
	}
	save()
	x := r.machine.Run(ctx, input, asl.RunOptions{
		Name:            t.ID,
		ExecutionArn:    rec.ExecutionArn,
		StateMachineArn: LocalStateMachineArn,
		Invoker:         r.invoker,
		Clock:           r.clock,
		OnEvent: func(e asl.Event) {
			b, err := json.Marshal(e)
			if err != nil {
				return
			}
			rec.Events = append(rec.Events, b)
			// Batched: one write per state left, not per event.
			if e.Type == "TaskStateExited" || e.Type == "TaskStateEntered" {
				save()
			}
		},
	})
	rec.Status, rec.Error, rec.Cause, rec.Output = x.Status, x.Error, x.Cause, x.Output
	stop := x.StopDate.UTC()
	rec.StopDate = &stop
	save()
	log.InfoContext(ctx, "execution finished", "status", x.Status, "error", x.Error)
	return rec
}

// executionArn names one execution uniquely, as Express does: several executions may share
// the ticket ID as their name.
func executionArn(name string) string {
	return "arn:aws:states:local:000000000000:express:incident-manager-notify:" + name + ":" + uuid.NewString()
}
