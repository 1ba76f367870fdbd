// Package sfnapi is Step Functions on one machine: state machines run by the local ASL engine
// (internal/asl), started, described and listed through the calls AWS Step Functions offers.
// The embedded server starts its workflow executions through it exactly as the create Lambda
// does on AWS (internal/sfn's Starter, with this Service as its client); with --sfn-addr it
// also serves the same calls as the JSON 1.0 API, for the AWS code path on one machine.
//
// Express executions queue FIFO and run concurrently, bounded; each is written to the execution
// store once, when it ends (while it runs it is answered from memory). They behave as on AWS:
// at least once, names are not deduplicated and every start gets a fresh ARN.
//
// Standard executions are unique by name and, with Config.Checkpoints, durable: recorded before
// StartExecution answers, checkpointed at every state transition, their task tokens answered
// with SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat, stopped with StopExecution and
// listed with ListExecutions. Each runs in a goroutine of its own (they mostly wait, for hours).
// Resume, at start, continues those a previous process left RUNNING where they stopped: a Wait
// wakes at the time it was set for, a token wait goes on waiting on the same token, and a
// resource that returned is not called again.
//
// Shutdown drains: no queued execution starts, running ones stop at their next state boundary
// (Standard ones are suspended at their last checkpoint, to be resumed), and a task call in
// progress is let finish so that what it did gets recorded.
package sfnapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// State machine types.
const (
	Express  = "EXPRESS"
	Standard = "STANDARD"
)

// Machine is one state machine the service runs.
type Machine struct {
	Arn        string
	Type       string // Express (default) or Standard
	Definition *asl.Machine
}

// Config wires the service.
type Config struct {
	Machines []Machine
	// Invoker runs Task states (in process, or lambdainvoke for real Lambda ARNs).
	Invoker asl.Invoker
	// Executions, if set, receives every execution when it ends, and answers for executions
	// no longer in memory.
	Executions ticket.ExecutionStore
	// Clock for the engine; asl.RealClock by default.
	Clock asl.Clock
	Log   *slog.Logger
	// Concurrency bounds the executions running at once (default 256): they mostly wait on
	// the network or on timers, so many may run while the store does the work.
	Concurrency int
	// QueueSize bounds the executions waiting to run (default 65,536); beyond it StartExecution
	// answers ExecutionLimitExceeded.
	QueueSize int
	// Keep bounds the finished executions kept in memory when there is no Executions store
	// (default 1000).
	Keep int
	// Checkpoints, if set, makes Standard executions durable (see Checkpoints); call Resume
	// once after New to continue those left running. Without it a Standard execution lives in
	// memory and ends with the process.
	Checkpoints Checkpoints
}

// Service runs executions until Shutdown.
type Service struct {
	c        Config
	machines map[string]Machine
	queue    chan *run
	root     context.Context
	stop     context.CancelCauseFunc
	workers  sync.WaitGroup
	running  sync.WaitGroup
	// tokens are the task tokens of the executions' callback tasks.
	tokens *asl.TaskTokens

	mu       sync.Mutex
	live     map[string]*run // queued or running, by execution ARN
	names    map[string]int  // live Express executions per name
	draining bool
	// express counts the live Express executions.
	express int
	// finished keeps the latest finished runs when there is no execution store (Keep).
	finished []*run
}

// run is one execution as the API reports it, updated while it runs.
type run struct {
	machine Machine
	// Set when registered, never changed: read without the lock.
	arn, name string
	start     time.Time
	input     json.RawMessage

	mu     sync.Mutex
	exec   asl.Execution
	events []asl.Event
	done   chan struct{}

	// Standard executions: the run's own context (StopExecution cancels it with asl.Stop),
	// the checkpoint to resume from, and the last one saved.
	ctx        context.Context
	cancel     context.CancelCauseFunc
	resume     *asl.Checkpoint
	checkpoint []byte
	// answer is the last task token answer stored for it (see saveTaskAnswer).
	answerToken string
	answer      asl.CallbackSignal
}

// New returns a service with its workers running.
func New(c Config) *Service {
	if c.Clock == nil {
		c.Clock = asl.RealClock
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 256
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1 << 16
	}
	if c.Keep <= 0 {
		c.Keep = 1000
	}
	s := &Service{c: c, machines: map[string]Machine{}, queue: make(chan *run, c.QueueSize), live: map[string]*run{}, names: map[string]int{}}
	for _, m := range c.Machines {
		if m.Type == "" {
			m.Type = Express
		}
		s.machines[m.Arn] = m
	}
	s.tokens = asl.NewTaskTokens()
	s.tokens.BeforeDeliver = s.saveTaskAnswer
	s.tokens.ExecutionExists = s.executionExists
	s.root, s.stop = context.WithCancelCause(context.Background())
	for range c.Concurrency {
		s.workers.Add(1)
		go s.work()
	}
	return s
}

func (s *Service) work() {
	defer s.workers.Done()
	for {
		select {
		case <-s.root.Done():
			return
		case rn := <-s.queue:
			if s.root.Err() != nil {
				s.forget(rn) // shut down while it waited: it never ran
				return
			}
			s.execute(s.root, rn)
		}
	}
}

// Shutdown stops the service: nothing queued starts any more, running executions stop at their
// next state boundary (a task call in progress finishes first), and their records are saved.
// It waits until they have stopped or ctx is done.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.stop(asl.ErrSuspended)
	done := make(chan struct{})
	go func() { s.workers.Wait(); s.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case rn := <-s.queue:
			s.forget(rn)
		default:
			return nil
		}
	}
}

// Active reports whether an Express execution named name is queued or running (a Standard
// one of the same name, an escalation named after the ticket, does not count).
func (s *Service) Active(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names[name] > 0
}

// Pending counts the Express executions queued or running: the backlog. Standard executions
// wait for hours on timers and tokens and are not one.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.express
}

// apiError is a Step Functions API error: its code is the JSON 1.0 __type and the
// smithy.APIError code the SDK reports.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string        { return e.code + ": " + e.msg }
func (e *apiError) ErrorCode() string    { return e.code }
func (e *apiError) ErrorMessage() string { return e.msg }
func (e *apiError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

var _ smithy.APIError = (*apiError)(nil)

func badRequest(code, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

// StartRequest starts one execution.
type StartRequest struct {
	StateMachineArn string
	Name            string // default a random UUID
	Input           *string
}

// Started is StartExecution's answer.
type Started struct {
	ExecutionArn string
	StartDate    time.Time
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// Start queues an execution and returns its ARN at once. A Standard execution is recorded
// (with Checkpoints: durably) before Start returns, and starts at once.
func (s *Service) Start(in StartRequest) (Started, error) {
	rn, existing, err := s.register(in)
	if err != nil {
		return Started{}, err
	}
	started := Started{ExecutionArn: rn.arn, StartDate: rn.start}
	if existing {
		return started, nil
	}
	if rn.machine.Type == Standard {
		go s.runStandard(rn)
		return started, nil
	}
	select {
	case s.queue <- rn:
	default:
		s.forget(rn)
		return Started{}, &apiError{http.StatusBadRequest, "ExecutionLimitExceeded", "Too many executions are waiting to run; try again shortly."}
	}
	return started, nil
}

// StartSync runs an execution to its end in the caller's goroutine (StartSyncExecution,
// Express only).
func (s *Service) StartSync(ctx context.Context, in StartRequest) (*asl.Execution, error) {
	if m, ok := s.machines[in.StateMachineArn]; ok && m.Type != Express {
		return nil, badRequest("StateMachineTypeNotSupported", "This operation is only supported by Express state machines")
	}
	rn, _, err := s.register(in)
	if err != nil {
		return nil, err
	}
	s.execute(ctx, rn)
	x := rn.snapshot()
	return &x, nil
}

// register validates a start request and records its execution as queued. existing: a Standard
// execution of that name and input is already running, and is the answer. A new Standard run
// is counted in s.running: the caller must run it (runStandard).
func (s *Service) register(in StartRequest) (rn *run, existing bool, err error) {
	m, ok := s.machines[in.StateMachineArn]
	if !ok {
		return nil, false, badRequest("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", in.StateMachineArn)
	}
	name := in.Name
	if name == "" {
		name = uuid.NewString()
	}
	if !validName.MatchString(name) {
		return nil, false, badRequest("InvalidName", "Invalid Name: '%s'", name)
	}
	input := json.RawMessage("{}")
	if in.Input != nil {
		if !json.Valid([]byte(*in.Input)) {
			return nil, false, badRequest("InvalidExecutionInput", "Invalid State Machine Execution Input: 'Invalid JSON'")
		}
		input = json.RawMessage(*in.Input)
	}
	var arn string
	if m.Type == Standard {
		// arn:aws:states:REGION:ACCOUNT:stateMachine:NAME → …:execution:NAME:EXEC
		arn = strings.Replace(m.Arn, ":stateMachine:", ":execution:", 1) + ":" + name
	} else {
		// → …:express:NAME:EXEC:UUID, unique per start
		arn = strings.Replace(m.Arn, ":stateMachine:", ":express:", 1) + ":" + name + ":" + uuid.NewString()
	}
	rn = &run{machine: m, arn: arn, name: name, start: s.c.Clock.Now().UTC(), input: input, done: make(chan struct{})}
	rn.exec = asl.Execution{
		ExecutionArn: arn, StateMachineArn: m.Arn, Name: name,
		Status: asl.StatusRunning, StartDate: rn.start, Input: input,
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return nil, false, &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The service is shutting down."}
	}
	if m.Type == Express {
		s.live[arn] = rn
		s.names[name]++
		s.express++
		s.mu.Unlock()
		return rn, false, nil
	}
	if prev, ok := s.live[arn]; ok {
		s.mu.Unlock()
		if string(prev.input) == string(input) {
			return prev, true, nil
		}
		return nil, false, badRequest("ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn)
	}
	// Reserved while it is recorded: a concurrent start of the name finds it.
	rn.ctx, rn.cancel = context.WithCancelCause(s.root)
	s.live[arn] = rn
	s.running.Add(1)
	s.mu.Unlock()
	if err := s.recordStart(rn); err != nil {
		s.forget(rn)
		rn.cancel(nil)
		close(rn.done)
		s.running.Done()
		return nil, false, err
	}
	return rn, false, nil
}

// recordStart makes a new Standard execution exist: durably in Checkpoints, or else it is
// checked against the execution store (Standard names are unique for good).
func (s *Service) recordStart(rn *run) error {
	exists := badRequest("ExecutionAlreadyExists", "Execution Already Exists: '%s'", rn.arn)
	if s.c.Checkpoints == nil {
		if s.c.Executions != nil {
			if x, err := s.c.Executions.LatestExecution(context.Background(), rn.arn); err == nil && x.ExecutionArn == rn.arn {
				return exists
			}
		}
		return nil
	}
	cp := &asl.Checkpoint{ExecutionArn: rn.arn, StateMachineArn: rn.machine.Arn, Name: rn.name, StartDate: rn.start, Input: rn.input}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	rec := rn.record(false)
	err = s.c.Checkpoints.CreateExecution(context.Background(), rec, b)
	if ticket.ErrorCode(err) == ticket.ECONFLICT {
		return exists
	}
	if err != nil {
		return err
	}
	rn.resume, rn.checkpoint = cp, b
	return nil
}

// forget drops a run from the live set.
func (s *Service) forget(rn *run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[rn.arn] != rn {
		return
	}
	delete(s.live, rn.arn)
	if rn.machine.Type != Express {
		return
	}
	s.express--
	if s.names[rn.name]--; s.names[rn.name] <= 0 {
		delete(s.names, rn.name)
	}
}

// execute runs an Express rn to its end, saves its record once, and forgets it.
func (s *Service) execute(ctx context.Context, rn *run) {
	s.running.Add(1)
	defer s.running.Done()
	defer close(rn.done)
	defer s.forget(rn)
	res := rn.machine.Definition.Run(ctx, rn.input, s.runOptions(rn))
	s.recordEnd(ctx, rn, res)
}

func (s *Service) runOptions(rn *run) asl.RunOptions {
	return asl.RunOptions{
		Name:            rn.name,
		StateMachineArn: rn.machine.Arn,
		ExecutionArn:    rn.arn,
		Invoker:         drainInvoker{s: s, inner: s.c.Invoker},
		Clock:           s.c.Clock,
		Callbacks:       s.tokens,
		OnEvent: func(e asl.Event) {
			rn.mu.Lock()
			rn.events = append(rn.events, e)
			rn.mu.Unlock()
		},
	}
}

// recordEnd records the outcome of rn's execution.
func (s *Service) recordEnd(ctx context.Context, rn *run, res *asl.Execution) {
	res.StartDate = rn.start
	rn.mu.Lock()
	rn.exec = *res
	rn.events = res.Events
	rn.mu.Unlock()
	s.c.Log.Info("execution finished", "execution", res.ExecutionArn, "status", res.Status, "error", res.Error)
	if s.c.Executions != nil {
		// Saved even when the service is shutting down, so the record is truthful.
		if err := s.c.Executions.SaveExecution(context.WithoutCancel(ctx), rn.record(true)); err != nil {
			s.c.Log.Error("save execution", "execution", res.ExecutionArn, "err", err)
		}
		return
	}
	s.mu.Lock()
	s.finished = append(s.finished, rn)
	if len(s.finished) > s.c.Keep {
		s.finished = s.finished[len(s.finished)-s.c.Keep:]
	}
	s.mu.Unlock()
}

// drainInvoker lets a task call in progress finish when the service shuts down: the call is
// not canceled with the execution, only by its own deadline (TimeoutSeconds) or by a cancel
// that is not the shutdown (StopExecution, a virtual-clock timeout). A webhook that was being
// posted is then answered and recorded, instead of cut off and sent again after the restart.
type drainInvoker struct {
	s     *Service
	inner asl.Invoker
}

func (d drainInvoker) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	if d.inner == nil {
		return nil, &asl.TaskFailure{Name: "States.TaskFailed", Cause: "no handler is bound to resource " + resource}
	}
	call, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if dl, ok := ctx.Deadline(); ok {
		var c2 context.CancelFunc
		call, c2 = context.WithDeadline(call, dl)
		defer c2()
	}
	stop := context.AfterFunc(ctx, func() {
		d.s.mu.Lock()
		draining := d.s.draining
		d.s.mu.Unlock()
		if !draining {
			cancel()
		}
	})
	defer stop()
	return d.inner.Invoke(call, resource, input)
}

// lookup returns the execution with arn: live, or from the store.
func (s *Service) lookup(ctx context.Context, arn string) (asl.Execution, []json.RawMessage, error) {
	s.mu.Lock()
	rn, ok := s.live[arn]
	for i := len(s.finished) - 1; !ok && i >= 0; i-- {
		if s.finished[i].arn == arn {
			rn, ok = s.finished[i], true
		}
	}
	s.mu.Unlock()
	if ok {
		rec := rn.record(true)
		return rn.snapshot(), rec.Events, nil
	}
	if s.c.Executions != nil {
		x, err := s.c.Executions.LatestExecution(ctx, arn)
		if err == nil && x.ExecutionArn == arn {
			e := asl.Execution{ExecutionArn: x.ExecutionArn, StateMachineArn: x.StateMachineArn, Name: x.Name, Status: x.Status,
				StartDate: x.StartDate, Input: x.Input, Output: x.Output, Error: x.Error, Cause: x.Cause}
			if x.StopDate != nil {
				e.StopDate = *x.StopDate
			}
			return e, x.Events, nil
		}
		if err != nil && ticket.ErrorCode(err) != ticket.ENOTFOUND {
			return asl.Execution{}, nil, err
		}
	}
	return asl.Execution{}, nil, badRequest("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
}

func (rn *run) snapshot() asl.Execution {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.exec
}

// record is the execution as ticket.Execution.
func (rn *run) record(events bool) *ticket.Execution {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	e := &ticket.Execution{
		ExecutionArn: rn.exec.ExecutionArn, StateMachineArn: rn.exec.StateMachineArn, Name: rn.exec.Name,
		Status: rn.exec.Status, StartDate: rn.exec.StartDate, Input: rn.exec.Input, Output: rn.exec.Output,
		Error: rn.exec.Error, Cause: rn.exec.Cause,
	}
	if !rn.exec.StopDate.IsZero() {
		stop := rn.exec.StopDate
		e.StopDate = &stop
	}
	if events {
		for _, ev := range rn.events {
			// MarshalJSON directly: json.Marshal would validate and compact its output again.
			if b, err := ev.MarshalJSON(); err == nil {
				e.Events = append(e.Events, b)
			}
		}
	}
	return e
}

// The service is the execution store the admin API reads: executions still queued or running
// come from memory, the others from the store.
var _ ticket.ExecutionStore = (*Service)(nil)

// SaveExecution implements ticket.ExecutionStore by passing the record to the store.
func (s *Service) SaveExecution(ctx context.Context, x *ticket.Execution) error {
	if s.c.Executions == nil {
		return nil
	}
	return s.c.Executions.SaveExecution(ctx, x)
}

func (s *Service) liveNamed(name string) []*run {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*run
	for _, rn := range s.live {
		if rn.name == name || rn.arn == name {
			out = append(out, rn)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.After(out[j].start) })
	return out
}

// Executions implements ticket.ExecutionStore: live executions first, newest first.
func (s *Service) Executions(ctx context.Context, name string) ([]*ticket.Execution, error) {
	out := []*ticket.Execution{}
	for _, rn := range s.liveNamed(name) {
		out = append(out, rn.record(false))
	}
	if s.c.Executions != nil {
		stored, err := s.c.Executions.Executions(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, stored...)
	}
	return out, nil
}

// LatestExecution implements ticket.ExecutionStore: a live execution is newer than any stored.
func (s *Service) LatestExecution(ctx context.Context, name string) (*ticket.Execution, error) {
	if live := s.liveNamed(name); len(live) > 0 {
		return live[0].record(true), nil
	}
	if s.c.Executions == nil {
		return nil, ticket.ErrExecutionNotFound
	}
	return s.c.Executions.LatestExecution(ctx, name)
}
