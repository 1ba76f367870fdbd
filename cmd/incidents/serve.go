package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/incidentmanager/incidents/api"
	"github.com/incidentmanager/incidents/internal/asl"
	"github.com/incidentmanager/incidents/internal/lambdainvoke"
	"github.com/incidentmanager/incidents/internal/outbox"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/sqlite"
	"github.com/incidentmanager/incidents/internal/ticket"
	"github.com/incidentmanager/incidents/internal/webhook"
	"github.com/incidentmanager/incidents/statemachine"
	"github.com/incidentmanager/incidents/tasks"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type serveOptions struct {
	addr          string
	data          string
	webhooks      listFlag
	siteURL       string
	subjectPrefix string
	notify        bool
	workers       int
	createRate    float64
	createBurst   int
	limits        serverLimits
	logFormat     string
	logLevel      string
	// The Step Functions API (JSON 1.0) for the AWS code path on one machine.
	sfnAddr        string
	sfnMachineArn  string
	lambdaEndpoint string
}

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o serveOptions
	fs := flag.NewFlagSet("incidents serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&o.data, "data", "./data", "keep the database, outbox and admin token in `DIR`")
	fs.Var(&o.webhooks, "webhook", "also notify this Slack-compatible webhook `URL` (repeatable)")
	fs.StringVar(&o.siteURL, "site-url", "", "public `URL` of the web app, for links in notifications (default: the listen address)")
	fs.StringVar(&o.subjectPrefix, "subject-prefix", ticket.DefaultConfig().SubjectPrefix, "start every notification subject with `TEXT`")
	fs.BoolVar(&o.notify, "notifications", true, "send notifications (false: the kill switch; tickets record FAILED)")
	fs.IntVar(&o.workers, "workers", 4, "workflow executions run at once")
	fs.Float64Var(&o.createRate, "create-rate", 50, "tickets filed per second by all clients together, at most, on average (0: no limit)")
	fs.IntVar(&o.createBurst, "create-burst", 100, "tickets filed at once by all clients together, at most, above --create-rate")
	o.limits.register(fs)
	fs.StringVar(&o.logFormat, "log-format", "text", "log as `text` or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.sfnAddr, "sfn-addr", "", "also serve the Step Functions API (StartExecution, DescribeExecution, ...) on `HOST:PORT`, running notify.asl.json in this engine")
	fs.StringVar(&o.sfnMachineArn, "sfn-state-machine-arn", statemachine.LocalStateMachineArn, "the `ARN` the Step Functions API knows the workflow by")
	fs.StringVar(&o.lambdaEndpoint, "lambda-endpoint", "", "with --sfn-addr: Task states call the Lambda Invoke API at `URL` (e.g. sam local start-lambda), functions named by their template logical IDs; default: the task handlers in this process")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 64
	}
	if o.lambdaEndpoint != "" && o.sfnAddr == "" {
		fmt.Fprintln(stderr, "incidents serve: --lambda-endpoint needs --sfn-addr")
		return 64
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "incidents serve: unexpected argument %q\n", fs.Arg(0))
		return 64
	}
	for _, u := range o.webhooks {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			fmt.Fprintf(stderr, "incidents serve: --webhook %q is not an http(s) URL\n", u)
			return 64
		}
	}
	log := newLogger(stderr, o.logFormat, o.logLevel)
	if err := serve(ctx, o, stdout, log); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if lv.UnmarshalText([]byte(level)) != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// minSecret is the shortest secret accepted from a file: 128 bits as hex.
const minSecret = 32

// secretFile returns the secret kept in path, creating it on first use: 256 random bits as hex,
// mode 0600, written to a temporary file and renamed into place so a crash never leaves an
// empty or partial secret behind. An existing file that others can read, or that holds a
// short secret, is refused with a message saying how to fix it.
func secretFile(path string) (string, error) {
	if st, err := os.Stat(path); err == nil {
		if st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%s is readable by others (mode %v): run chmod 600 %s", path, st.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		s := strings.TrimSpace(string(b))
		if len(s) < minSecret {
			return "", fmt.Errorf("%s holds a secret shorter than %d characters: delete it to have a new one made", path, minSecret)
		}
		return s, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := hex.EncodeToString(raw)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(s + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return s, nil
}

// outboxEntries adapts the outbox to the API's reader.
type outboxEntries struct{ *outbox.Outbox }

func (o outboxEntries) Entries(ctx context.Context, ticketID string, limit int) ([]api.OutboxEntry, error) {
	es, err := o.List(ctx, ticketID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]api.OutboxEntry, len(es))
	for i, e := range es {
		out[i] = api.OutboxEntry{ID: e.ID, Channel: e.Channel, TicketID: e.TicketID, Subject: e.Subject, Body: e.Body, At: e.At}
	}
	return out, nil
}

func serve(ctx context.Context, o serveOptions, stdout io.Writer, log *slog.Logger) error {
	if err := secureDataDir(o.data, log); err != nil {
		return err
	}
	tokenPath := filepath.Join(o.data, "admin-token")
	token, err := secretFile(tokenPath)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	cursorKey, err := secretFile(filepath.Join(o.data, "cursor-key"))
	if err != nil {
		return fmt.Errorf("cursor key: %w", err)
	}
	db, err := sqlite.Open(filepath.Join(o.data, "incidents.db"), nil)
	if err != nil {
		return err
	}
	defer db.Close()
	store := sqlite.NewStore(db, []byte(cursorKey))
	executions := sqlite.NewExecutions(db)
	box := outbox.New(filepath.Join(o.data, "outbox.jsonl"), nil)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if o.siteURL == "" {
		o.siteURL = url
	}
	cfg := ticket.Config{NotificationsEnabled: o.notify, SubjectPrefix: o.subjectPrefix, SiteURL: o.siteURL, Webhooks: o.webhooks}
	publish := &tasks.Publish{
		Store:    store,
		Config:   ticket.StaticConfig(cfg),
		Channels: webhook.Channels(nil, box),
		Now:      time.Now,
		Log:      log,
	}
	record := &tasks.Record{Store: store, Now: time.Now}
	tasksInProcess := statemachine.NewTaskInvoker(publish, record)
	machine, err := statemachine.Load(statemachine.LocalFunctionArn)
	if err != nil {
		return fmt.Errorf("load workflow: %w", err)
	}
	runner := statemachine.NewRunner(statemachine.RunnerConfig{
		Machine:    machine,
		Invoker:    tasksInProcess,
		Store:      store,
		Executions: executions,
		Log:        log,
		Workers:    o.workers,
	})
	handler := api.New(api.Config{
		Store:       store,
		Starter:     runner,
		Executions:  executions,
		Outbox:      outboxEntries{box},
		AdminToken:  func(context.Context) (string, error) { return token, nil },
		Log:         log,
		CreateLimit: o.limits.createThrottle(o.createRate, o.createBurst),
	})
	srv := newHTTPServer(site(handler, siteConfig{mode: "local"}), log, o.limits)

	runCtx, stopRunner := context.WithCancel(context.WithoutCancel(ctx))
	runnerDone := make(chan struct{})
	go func() { runner.Run(runCtx); close(runnerDone) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	if o.sfnAddr != "" {
		sfnURL, stop, err := serveStepFunctions(o, log, executions, tasksInProcess)
		if err != nil {
			stopRunner()
			srv.Close()
			<-runnerDone
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "Step Functions API on %s (state machine %s)\n", sfnURL, o.sfnMachineArn)
	}
	fmt.Fprintf(stdout, "Incident Manager listening on %s\n", url)
	fmt.Fprintf(stdout, "Admin token: %s (sign in at %s/#/admin)\n", tokenPath, url)
	fmt.Fprintf(stdout, "Data: %s\n", o.data)

	select {
	case err := <-serveErr:
		stopRunner()
		<-runnerDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	// Executions still running are cut short; their tickets stay PENDING and are notified on
	// the next start.
	stopRunner()
	<-runnerDone
	return err
}

// serveStepFunctions serves the Step Functions API on o.sfnAddr with the workflow bound either
// to the in-process handlers or, with --lambda-endpoint, to Lambda functions behind the Invoke
// API: the AWS code path (create Lambda → StartExecution → task Lambdas) on one machine.
func serveStepFunctions(o serveOptions, log *slog.Logger, executions ticket.ExecutionStore, inProcess asl.Invoker) (string, func(), error) {
	arn, invoker := statemachine.LocalFunctionArn, inProcess
	if o.lambdaEndpoint != "" {
		arn = statemachine.SAMFunctionArn
		invoker = lambdainvoke.New(aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		}, lambdainvoke.Endpoint(o.lambdaEndpoint))
	}
	machine, err := statemachine.Load(arn)
	if err != nil {
		return "", nil, err
	}
	api := sfnapi.New(sfnapi.Config{Machines: map[string]*asl.Machine{o.sfnMachineArn: machine}, Invoker: invoker, Executions: executions, Log: log})
	ln, err := net.Listen("tcp", o.sfnAddr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() {
		srv.Close()
		api.Close()
		api.Wait()
	}, nil
}
