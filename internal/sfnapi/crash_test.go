package sfnapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/awstest"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/sqlite"
)

// crashChildEnv makes the test binary the server the crash test kills: it serves the Step
// Functions API on SQLite at that path until it is killed.
const crashChildEnv = "SFNAPI_CRASH_CHILD_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// reportingCheckpoints tells the parent (on stdout) about every checkpoint stored, so that it
// kills the process at the moment it means to.
type reportingCheckpoints struct {
	*sqlite.Executions
	mu sync.Mutex
}

func (r *reportingCheckpoints) SaveCheckpoint(ctx context.Context, arn string, b []byte, durable bool) error {
	if err := r.Executions.SaveCheckpoint(ctx, arn, b, durable); err != nil {
		return err
	}
	var cp asl.Checkpoint
	json.Unmarshal(b, &cp)
	what := "between"
	switch {
	case cp.Entered != nil && !cp.Entered.WakeAt.IsZero():
		what = "sleeping"
	case cp.Entered != nil && cp.Entered.ResourceCalled:
		what = "waiting"
	case cp.Entered != nil:
		what = "calling"
	}
	r.mu.Lock()
	fmt.Printf("checkpoint %s %s\n", cp.State, what)
	r.mu.Unlock()
	return nil
}

// crashChild serves escalateDefinition(3, 3) with its pages appended to pages.jsonl beside the
// database (fsynced before the page "returns"), until killed.
func crashChild(path string) {
	db, err := sqlite.Open(path, nil)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	x := sqlite.NewExecutions(db)
	m, err := asl.Parse([]byte(escalateDefinition(3, 3)))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	log, err := os.OpenFile(filepath.Join(filepath.Dir(path), "pages.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	page := asl.InvokerFunc(func(_ context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
		var pg pageSent
		if err := json.Unmarshal(in, &pg); err != nil {
			return nil, err
		}
		pg.At = time.Now()
		b, _ := json.Marshal(pg)
		mu.Lock()
		defer mu.Unlock()
		log.Write(append(b, '\n'))
		log.Sync()
		return json.RawMessage(`{"paged":true}`), nil
	})
	svc := sfnapi.New(sfnapi.Config{
		Machines: []sfnapi.Machine{{Arn: escalateArn, Type: sfnapi.Standard, Definition: m}},
		Invoker:  page, Executions: x, Checkpoints: &reportingCheckpoints{Executions: x},
	})
	if _, err := svc.Resume(context.Background()); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("addr http://%s\n", ln.Addr())
	http.Serve(ln, svc)
}

// child is one server process of the crash test.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
	client *sfn.Client
}

func startChild(t *testing.T, path string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), lines: make(chan string, 100)}
	c.cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
	}()
	addr := c.await(t, "addr ")
	c.client = awstest.SFNClient(strings.TrimPrefix(addr, "addr "))
	return c
}

// await returns the first line starting with prefix.
func (c *child) await(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the server exited before %q: %s", prefix, c.stderr.String())
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("server: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q from the server within 15 s: %s", prefix, c.stderr.String())
		}
	}
}

// kill is SIGKILL: nothing is drained, nothing more written.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

func readPages(t *testing.T, dir string) []pageSent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "pages.jsonl"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []pageSent
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var pg pageSent
		if err := json.Unmarshal([]byte(l), &pg); err != nil {
			t.Fatal(err)
		}
		out = append(out, pg)
	}
	return out
}

func historyOf(t *testing.T, c *sfn.Client, arn string) []types.HistoryEvent {
	t.Helper()
	var out []types.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
	}
	return out
}

func eventAt(events []types.HistoryEvent, typ types.HistoryEventType) *types.HistoryEvent {
	for i := range events {
		if events[i].Type == typ {
			return &events[i]
		}
	}
	return nil
}

// TestSIGKILLDuringWaitsResumesOnTime kills the server with SIGKILL while an escalation waits
// for an acknowledgement, and again while it sleeps in a Wait state, restarting it on the same
// SQLite file each time: the timeout and the next page fire when they were set to, exactly
// once, and page 1 is not sent again.
func TestSIGKILLDuringWaitsResumesOnTime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "incidents.db")
	ctx := context.Background()

	// 1. Page 1 goes out; killed while waiting for its acknowledgement.
	first := startChild(t, path)
	started, err := first.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(escalateArn), Name: aws.String("T-9"), Input: aws.String(`{"id":"T-9"}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(started.ExecutionArn)
	first.await(t, "checkpoint Page1 waiting")
	taskStarted := eventAt(historyOf(t, first.client, arn), types.HistoryEventTypeTaskStarted)
	first.kill(t)
	if pages := readPages(t, dir); len(pages) != 1 || pages[0].Step != 1 {
		t.Fatalf("pages before the first kill: %+v", pages)
	}

	// 2. Restarted: the wait goes on; page 1 times out 3 s after TaskStarted; killed again
	// while the Wait state sleeps.
	second := startChild(t, path)
	second.await(t, "checkpoint Pause sleeping")
	events := historyOf(t, second.client, arn)
	second.kill(t)
	timedOut := eventAt(events, types.HistoryEventTypeTaskTimedOut)
	waitEntered := eventAt(events, types.HistoryEventTypeWaitStateEntered)
	if timedOut == nil || waitEntered == nil || taskStarted == nil {
		t.Fatalf("history after the restart: %v", events)
	}
	late := timedOut.Timestamp.Sub(taskStarted.Timestamp.Add(3 * time.Second))
	t.Logf("page 1 timed out %s after its deadline, across a SIGKILL", late)
	if late < 0 || late > time.Second {
		t.Errorf("page 1 timed out %s after its 3 s, want on time", late)
	}
	if pages := readPages(t, dir); len(pages) != 1 {
		t.Fatalf("page 1 sent again after the restart: %+v", pages)
	}

	// 3. Restarted again: page 2 goes out when the Wait ends, once; it is acknowledged.
	third := startChild(t, path)
	third.await(t, "checkpoint Page2 waiting")
	pages := readPages(t, dir)
	if len(pages) != 2 || pages[1].Step != 2 {
		t.Fatalf("pages: %+v, want page 1 then page 2", pages)
	}
	wake := waitEntered.Timestamp.Add(3 * time.Second)
	late = pages[1].At.Sub(wake)
	t.Logf("page 2 sent %s after the Wait's end, across a SIGKILL", late)
	if late < 0 || late > time.Second {
		t.Errorf("page 2 sent %s after the Wait's end, want on time", late)
	}
	if _, err := third.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pages[0].Token), Output: aws.String(`{}`)}); apiCode(err) != "TaskTimedOut" {
		t.Errorf("page 1's token: %s, want TaskTimedOut", apiCode(err))
	}
	if _, err := third.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(pages[1].Token), Output: aws.String(`{"by":"ada"}`)}); err != nil {
		t.Fatal(err)
	}
	d := waitStatus(t, third.client, arn)
	if d.Status != types.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"id":"T-9","ack":{"by":"ada"}}` {
		t.Fatalf("execution %s %s", d.Status, aws.ToString(d.Output))
	}
	events = historyOf(t, third.client, arn)
	var kinds []string
	for i, e := range events {
		kinds = append(kinds, string(e.Type))
		if e.Id != int64(i+1) {
			t.Errorf("event %d has ID %d", i, e.Id)
		}
	}
	want := "ExecutionStarted,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskTimedOut,TaskStateExited," +
		"WaitStateEntered,WaitStateExited,TaskStateEntered,TaskScheduled,TaskStarted,TaskSubmitted,TaskSucceeded,TaskStateExited,SucceedStateEntered,SucceedStateExited,ExecutionSucceeded"
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("history\n got %s\nwant %s", got, want)
	}
	if pages := readPages(t, dir); len(pages) != 2 {
		t.Errorf("%d pages in all, want 2", len(pages))
	}
	list, err := third.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(escalateArn)})
	if err != nil || len(list.Executions) != 1 || list.Executions[0].Status != types.ExecutionStatusSucceeded {
		t.Errorf("ListExecutions = %+v, %v", list, err)
	}
}
