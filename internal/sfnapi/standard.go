package sfnapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/ticket"
)

// Checkpoints keeps Standard executions while they run, so that a restarted service resumes
// them where they stopped (internal/sqlite implements it). A checkpoint is the engine's
// asl.Checkpoint as JSON; an answer is the asl.CallbackSignal accepted for a task token, as
// JSON. FinishExecution saves the execution record, so Config.Executions should read the same
// store.
type Checkpoints interface {
	// CreateExecution records a new execution (x: RUNNING, no output yet) with its first
	// checkpoint, and returns once that is durable: StartExecution's answer says it exists. An
	// ARN recorded before, running or not, fails with a ticket.ECONFLICT error.
	CreateExecution(ctx context.Context, x *ticket.Execution, checkpoint []byte) error
	// SaveCheckpoint replaces a running execution's checkpoint. It returns once the checkpoint
	// is committed (it survives the process being killed); durable: once it would survive
	// power loss too (taken before the execution does something seen outside: a page).
	SaveCheckpoint(ctx context.Context, executionArn string, checkpoint []byte, durable bool) error
	// SaveTaskAnswer records, durably, the answer accepted for the task token of a running
	// execution, before its sender is told it was taken.
	SaveTaskAnswer(ctx context.Context, executionArn, token string, answer []byte) error
	// FinishExecution ends a running execution: its final status, no checkpoint any more, and
	// x saved as its execution record (ticket.ExecutionStore), in one transaction.
	FinishExecution(ctx context.Context, x *ticket.Execution) error
	// RunningExecutions calls each with the checkpoint of every running execution and the
	// last answer recorded for one of its task tokens (answerToken "" when none).
	RunningExecutions(ctx context.Context, each func(checkpoint, answer []byte, answerToken string) error) error
	// ListExecutions lists a state machine's executions newest first, only those with status
	// when it is not "", up to limit, after the cursor a previous page returned ("" for the
	// first); it returns the next cursor, "" after the last page. A cursor it cannot read is
	// a ticket.EINVALID error.
	ListExecutions(ctx context.Context, stateMachineArn, status string, limit int, after string) ([]*ticket.Execution, string, error)
}

// runStandard runs a Standard execution until it ends or the service suspends it (s.running
// was counted for it when it was registered).
func (s *Service) runStandard(rn *run) {
	defer s.running.Done()
	defer close(rn.done)
	defer s.forget(rn)
	defer rn.cancel(nil)
	opt := s.runOptions(rn)
	if s.c.Checkpoints != nil {
		opt.Checkpoint = s.checkpointer(rn)
	}
	backoff := time.Second
	for {
		opt.Resume = rn.resume
		res := rn.machine.Definition.Run(rn.ctx, rn.input, opt)
		if res.Status != asl.StatusRunning {
			s.finishStandard(rn, res)
			return
		}
		// Suspended at its last checkpoint: by the shutdown (the next start resumes it), or
		// because a checkpoint could not be stored (resumed from the last one stored, as soon
		// as the store takes writes again).
		if s.root.Err() != nil {
			s.c.Log.Info("execution suspended", "execution", rn.arn)
			return
		}
		s.c.Log.Warn("execution paused: its checkpoint cannot be stored", "execution", rn.arn, "retryIn", backoff)
		if asl.RealClock.Sleep(rn.ctx, backoff) != nil && s.root.Err() != nil {
			return // shut down meanwhile: resumed at the next start
		}
		backoff = min(2*backoff, 30*time.Second)
		rn.mu.Lock()
		var cp asl.Checkpoint
		err := json.Unmarshal(rn.checkpoint, &cp)
		rn.events = append([]asl.Event(nil), cp.Events...)
		token, answer := rn.answerToken, rn.answer
		rn.mu.Unlock()
		if err != nil {
			s.c.Log.Error("read checkpoint", "execution", rn.arn, "err", err)
			return
		}
		if token != "" && cp.Entered != nil && cp.Entered.Token == token {
			s.tokens.Answered(token, answer) // taken after the last checkpoint stored
		}
		rn.resume = &cp
	}
}

// checkpointer is a Standard run's RunOptions.Checkpoint.
func (s *Service) checkpointer(rn *run) func(*asl.Checkpoint) error {
	return func(cp *asl.Checkpoint) error {
		b, err := json.Marshal(cp)
		if err != nil {
			return err
		}
		if err := s.c.Checkpoints.SaveCheckpoint(context.Background(), rn.arn, b, cp.Durable); err != nil {
			s.c.Log.Error("save checkpoint", "execution", rn.arn, "state", cp.State, "err", err)
			return err
		}
		rn.mu.Lock()
		rn.checkpoint = b
		rn.mu.Unlock()
		return nil
	}
}

// finishStandard records the end of a Standard execution. With Checkpoints it retries until
// the store takes it; if the service stops first, the execution is still RUNNING in the store
// and the next start ends it again from its last checkpoint.
func (s *Service) finishStandard(rn *run, res *asl.Execution) {
	if s.c.Checkpoints == nil {
		s.recordEnd(context.Background(), rn, res)
		return
	}
	res.StartDate = rn.start
	rn.mu.Lock()
	rn.exec = *res
	rn.events = res.Events
	rn.mu.Unlock()
	s.c.Log.Info("execution finished", "execution", res.ExecutionArn, "status", res.Status, "error", res.Error)
	rec := rn.record(true)
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		err := s.c.Checkpoints.FinishExecution(context.Background(), rec)
		if err == nil {
			break
		}
		s.c.Log.Error("finish execution", "execution", rn.arn, "err", err)
		if asl.RealClock.Sleep(s.root, backoff) != nil {
			return
		}
	}
	if s.c.Executions == nil {
		s.mu.Lock()
		s.finished = append(s.finished, rn)
		if len(s.finished) > s.c.Keep {
			s.finished = s.finished[len(s.finished)-s.c.Keep:]
		}
		s.mu.Unlock()
	}
}

// Resume continues the Standard executions a previous process left RUNNING in Checkpoints,
// each from its last checkpoint: call it once after New, before serving. An execution whose
// state machine is not configured any more stays RUNNING in the store, untouched.
func (s *Service) Resume(ctx context.Context) (int, error) {
	if s.c.Checkpoints == nil {
		return 0, nil
	}
	var runs []*run
	err := s.c.Checkpoints.RunningExecutions(ctx, func(b, answer []byte, token string) error {
		var cp asl.Checkpoint
		if err := json.Unmarshal(b, &cp); err != nil {
			s.c.Log.Error("unreadable checkpoint: execution left as it is", "err", err)
			return nil
		}
		m, ok := s.machines[cp.StateMachineArn]
		if !ok || m.Type != Standard {
			s.c.Log.Warn("running execution of a state machine not configured: left as it is", "execution", cp.ExecutionArn, "stateMachine", cp.StateMachineArn)
			return nil
		}
		rn := &run{machine: m, arn: cp.ExecutionArn, name: cp.Name, start: cp.StartDate, input: cp.Input, done: make(chan struct{}), resume: &cp, checkpoint: b}
		rn.exec = asl.Execution{ExecutionArn: cp.ExecutionArn, StateMachineArn: m.Arn, Name: cp.Name, Status: asl.StatusRunning, StartDate: cp.StartDate, Input: cp.Input}
		rn.events = append([]asl.Event(nil), cp.Events...)
		if token != "" && cp.Entered != nil && cp.Entered.Token == token {
			// Accepted before the process died, after the last checkpoint: the resumed task
			// gets it as soon as it waits on its token again.
			var sig asl.CallbackSignal
			if err := json.Unmarshal(answer, &sig); err == nil {
				s.tokens.Answered(token, sig)
			}
		}
		runs = append(runs, rn)
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return 0, &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The service is shutting down."}
	}
	var started []*run
	for _, rn := range runs {
		if _, dup := s.live[rn.arn]; dup {
			continue
		}
		rn.ctx, rn.cancel = context.WithCancelCause(s.root)
		s.live[rn.arn] = rn
		s.running.Add(1)
		started = append(started, rn)
	}
	s.mu.Unlock()
	for _, rn := range started {
		s.c.Log.Info("execution resumed", "execution", rn.arn, "state", rn.resume.State)
		go s.runStandard(rn)
	}
	return len(started), nil
}

// saveTaskAnswer is the registry's BeforeDeliver: an answer for a checkpointed execution is
// stored before its sender hears it was taken.
func (s *Service) saveTaskAnswer(task asl.CallbackTask, sig asl.CallbackSignal) error {
	if s.c.Checkpoints == nil {
		return nil
	}
	s.mu.Lock()
	rn := s.live[task.ExecutionArn]
	s.mu.Unlock()
	if rn == nil || rn.machine.Type != Standard {
		return nil
	}
	b, err := json.Marshal(sig)
	if err != nil {
		return err
	}
	if err := s.c.Checkpoints.SaveTaskAnswer(context.Background(), task.ExecutionArn, task.Token, b); err != nil {
		s.c.Log.Error("save task answer", "execution", task.ExecutionArn, "err", err)
		return &apiError{http.StatusServiceUnavailable, "ServiceUnavailable", "The answer cannot be recorded right now; try again."}
	}
	rn.mu.Lock()
	rn.answerToken, rn.answer = task.Token, sig
	rn.mu.Unlock()
	return nil
}

// executionExists tells a token of a task that is over from one of no execution.
func (s *Service) executionExists(arn string) bool {
	s.mu.Lock()
	_, ok := s.live[arn]
	s.mu.Unlock()
	if ok || s.c.Executions == nil {
		return ok
	}
	x, err := s.c.Executions.LatestExecution(context.Background(), arn)
	return err == nil && x.ExecutionArn == arn
}

// tokenAPIError turns the registry's errors into the API's.
func tokenAPIError(err error) error {
	var te *asl.TokenError
	if errors.As(err, &te) {
		return badRequest(te.Code, "%s", te.Message)
	}
	return err
}

// sendTaskSuccess, sendTaskFailure and sendTaskHeartbeat answer a callback task's token.
func (s *Service) sendTaskSuccess(token, output string) error {
	return tokenAPIError(s.tokens.SendTaskSuccess(token, json.RawMessage(output)))
}

func (s *Service) sendTaskFailure(token, errName, cause string) error {
	if len(errName) > 256 || len(cause) > 32768 {
		return badRequest("ValidationException", "error is at most 256 characters, cause at most 32768")
	}
	return tokenAPIError(s.tokens.SendTaskFailure(token, errName, cause))
}

func (s *Service) sendTaskHeartbeat(token string) error {
	return tokenAPIError(s.tokens.SendTaskHeartbeat(token))
}

// stopExecution stops a running Standard execution (ABORTED, with errName and cause) and
// returns its stop date once it has stopped. Stopping one that ended already changes nothing
// and returns when it ended.
func (s *Service) stopExecution(ctx context.Context, arn, errName, cause string) (time.Time, error) {
	if len(errName) > 256 || len(cause) > 32768 {
		return time.Time{}, badRequest("ValidationException", "error is at most 256 characters, cause at most 32768")
	}
	if strings.Contains(arn, ":express:") {
		return time.Time{}, badRequest("ValidationException", "This operation is not supported by EXPRESS state machines")
	}
	s.mu.Lock()
	rn := s.live[arn]
	s.mu.Unlock()
	if rn != nil && rn.cancel != nil {
		rn.cancel(&asl.Stop{ErrorName: errName, Cause: cause})
		select {
		case <-rn.done:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
		return rn.snapshot().StopDate, nil
	}
	x, _, err := s.lookup(ctx, arn)
	if err != nil {
		return time.Time{}, err
	}
	return x.StopDate, nil
}

// executionStatuses are ListExecutions' statusFilter values.
var executionStatuses = map[string]bool{"RUNNING": true, "SUCCEEDED": true, "FAILED": true, "TIMED_OUT": true, "ABORTED": true, "PENDING_REDRIVE": true}

// listExecutions lists a Standard state machine's executions, newest first.
func (s *Service) listExecutions(ctx context.Context, machineArn, status string, maxResults int, next string) ([]*ticket.Execution, string, error) {
	m, ok := s.machines[machineArn]
	if !ok {
		return nil, "", badRequest("StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'", machineArn)
	}
	if m.Type != Standard {
		return nil, "", badRequest("StateMachineTypeNotSupported", "This operation is not supported by EXPRESS state machines")
	}
	if status != "" && !executionStatuses[status] {
		return nil, "", badRequest("ValidationException", "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint", status)
	}
	if maxResults < 0 || maxResults > 1000 {
		return nil, "", badRequest("ValidationException", "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", maxResults)
	}
	if maxResults == 0 {
		maxResults = 100
	}
	if s.c.Checkpoints != nil {
		list, cursor, err := s.c.Checkpoints.ListExecutions(ctx, machineArn, status, maxResults, next)
		if ticket.ErrorCode(err) == ticket.EINVALID {
			return nil, "", badRequest("InvalidToken", "Invalid Token: '%s'", next)
		}
		return list, cursor, err
	}
	// In memory: the live executions and the finished ones kept.
	s.mu.Lock()
	var all []*run
	for _, rn := range s.live {
		if rn.machine.Arn == machineArn {
			all = append(all, rn)
		}
	}
	for _, rn := range s.finished {
		if rn.machine.Arn == machineArn {
			all = append(all, rn)
		}
	}
	s.mu.Unlock()
	var out []*ticket.Execution
	for _, rn := range all {
		if x := rn.record(false); status == "" || x.Status == status {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartDate.Equal(out[j].StartDate) {
			return out[i].StartDate.After(out[j].StartDate)
		}
		return out[i].ExecutionArn > out[j].ExecutionArn
	})
	from := 0
	if next != "" {
		n, err := strconv.Atoi(next)
		if err != nil || n < 0 || n > len(out) {
			return nil, "", badRequest("InvalidToken", "Invalid Token: '%s'", next)
		}
		from = n
	}
	to := min(from+maxResults, len(out))
	cursor := ""
	if to < len(out) {
		cursor = strconv.Itoa(to)
	}
	return out[from:to], cursor, nil
}
