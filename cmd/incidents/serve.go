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
	"github.com/incidentmanager/incidents/intake"
	"github.com/incidentmanager/incidents/internal/lambdainvoke"
	"github.com/incidentmanager/incidents/internal/outbox"
	"github.com/incidentmanager/incidents/internal/sfn"
	"github.com/incidentmanager/incidents/internal/sfnapi"
	"github.com/incidentmanager/incidents/internal/smtpd"
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
	// pprofAddr serves Go's profiler (net/http/pprof) for performance work.
	pprofAddr string
	// retention is how long execution history is kept (0: forever).
	retention time.Duration
	// maxBacklog: creates answer 503 while more executions than this wait or run.
	maxBacklog int
	mail       mailOptions
}

const serveSynopsis = `Usage: incidents serve [flags]

Runs all of Incident Manager on this machine: the web app and HTTP API on --addr, tickets in
SQLite under --data, the notification workflow in the embedded engine. Notifications go to the
local outbox (--data/outbox.jsonl, shown at /admin/outbox), to any --webhook, and by email
with --smtp-host and --email-to. Monitoring posts to /v2/enqueue (PagerDuty Events API v2),
/v1/alertmanager and /v1/heartbeat/KEY with keys from /admin/integrations; --smtp-listen takes
email in. The admin token is --data/admin-token, made on first start. Stop it with
Ctrl-C (SIGINT) or SIGTERM: it finishes the requests in flight and exits.
`

func serveCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o serveOptions
	fs := flag.NewFlagSet("incidents serve", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&o.data, "data", "./data", "keep the database, outbox and admin token in `DIR`")
	fs.Var(&o.webhooks, "webhook", "also notify this Slack-compatible webhook `URL` (repeatable)")
	fs.StringVar(&o.siteURL, "site-url", "", "public `URL` of the web app, for links in notifications (default: the listen address)")
	fs.StringVar(&o.subjectPrefix, "subject-prefix", ticket.DefaultConfig().SubjectPrefix, "start every notification subject with `TEXT`")
	fs.BoolVar(&o.notify, "notifications", true, "send notifications (false: the kill switch; tickets record FAILED)")
	fs.IntVar(&o.workers, "workers", 256, "workflow executions run at once, at most (they mostly wait on the network)")
	fs.Float64Var(&o.createRate, "create-rate", 50, "tickets filed per second by all clients together, at most, on average (0: no limit)")
	fs.IntVar(&o.createBurst, "create-burst", 100, "tickets filed at once by all clients together, at most, above --create-rate")
	o.limits.register(fs)
	fs.StringVar(&o.logFormat, "log-format", "text", "log as `text` or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.sfnAddr, "sfn-addr", "", "also serve the Step Functions API (StartExecution, DescribeExecution, ...) on `HOST:PORT`, running notify.asl.json in this engine")
	fs.StringVar(&o.sfnMachineArn, "sfn-state-machine-arn", statemachine.LocalStateMachineArn, "the `ARN` the Step Functions API knows the workflow by")
	fs.StringVar(&o.lambdaEndpoint, "lambda-endpoint", "", "with --sfn-addr: Task states call the Lambda Invoke API at `URL` (e.g. sam local start-lambda), functions named by their template logical IDs; default: the task handlers in this process")
	fs.DurationVar(&o.retention, "execution-retention", 30*24*time.Hour, "keep workflow execution history this `long` (0: forever); tickets are kept forever")
	fs.IntVar(&o.maxBacklog, "max-backlog", 50000, "answer POST /ticket with 503 and Retry-After while more than `N` notifications wait to be delivered (0: never)")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on `HOST:PORT`, for performance work; keep it on 127.0.0.1")
	o.mail.flags(fs)
	if code, done := parseFlags(fs, args, serveSynopsis, stdout, stderr); done {
		return code
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
	if err := o.mail.check(); err != nil {
		fmt.Fprintln(stderr, "incidents serve:", err)
		return 64
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
	unlock, err := lockDataDir(o.data)
	if err != nil {
		return err
	}
	defer unlock()
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
	store.Log = log
	live := api.NewEvents(0)
	defer live.Close()
	store.Changed = live.Ticket
	executions := sqlite.NewExecutions(db)
	box := outbox.New(filepath.Join(o.data, "outbox.jsonl"), nil)
	defer box.Close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if o.siteURL == "" {
		o.siteURL = url
	}
	cfg := ticket.Config{NotificationsEnabled: o.notify, SubjectPrefix: o.subjectPrefix, SiteURL: o.siteURL, Webhooks: o.webhooks}
	mailer, err := o.mail.mailer()
	if err != nil {
		return err
	}
	base := []ticket.Publisher{box}
	var reporters *tasks.MailReporters
	if mailer != nil {
		domain := tasks.MailDomain(mailer.From())
		if len(o.mail.emailTo) > 0 {
			base = append(base, &tasks.EmailChannel{Mailer: mailer, To: o.mail.emailTo, Server: mailer.Server(), Domain: domain})
		}
		if o.mail.reporterMail {
			reporters = &tasks.MailReporters{Store: store, Mailer: mailer, Config: ticket.StaticConfig(cfg), Domain: domain, Now: time.Now, Log: log}
		}
	}
	publish := &tasks.Publish{
		Store:    store,
		Config:   ticket.StaticConfig(cfg),
		Channels: webhook.Channels(nil, base...),
		Now:      time.Now,
		Log:      log,
	}
	record := &tasks.Record{Store: store, Now: time.Now}
	tasksInProcess := statemachine.NewTaskInvoker(publish, record)
	machine, err := statemachine.Load(statemachine.LocalFunctionArn)
	if err != nil {
		return fmt.Errorf("load workflow: %w", err)
	}
	// The local Step Functions: the embedded server starts executions through it exactly as
	// the create Lambda starts them on AWS (sfn.Starter), and --sfn-addr serves it over HTTP.
	machines := []sfnapi.Machine{{Arn: statemachine.LocalStateMachineArn, Type: sfnapi.Express, Definition: machine}}
	if o.sfnMachineArn != statemachine.LocalStateMachineArn && o.lambdaEndpoint == "" {
		machines = append(machines, sfnapi.Machine{Arn: o.sfnMachineArn, Type: sfnapi.Express, Definition: machine})
	}
	workflows := sfnapi.New(sfnapi.Config{Machines: machines, Invoker: tasksInProcess, Executions: executions, Log: log, Concurrency: o.workers})
	starter := sfn.NewStarter(workflows, statemachine.LocalStateMachineArn)
	sweeper := &tasks.Sweep{Store: store, Starter: starter, Now: time.Now, Log: log, StaleAfter: sweepStaleAfter, Active: workflows.Active, Batch: sweepBatch}

	integrations := sqlite.NewIntegrations(db)
	mailCtx, stopMail := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMail()
	var mailQueued func(string)
	if reporters != nil {
		mailQueued = func(id string) { go reporters.Send(mailCtx, id) }
	}
	intakeService := &intake.Service{Tickets: store, Integrations: integrations, Starter: starter, ReporterMail: reporters != nil, MailQueued: mailQueued, Now: time.Now, Log: log}
	handler := api.New(api.Config{
		Intake:       intakeService,
		Integrations: integrations,
		ReporterMail: reporters != nil,
		MailQueued:   mailQueued,
		Store:        store,
		Starter:      starter,
		Executions:   workflows,
		Outbox:       outboxEntries{box},
		AdminToken:   func(context.Context) (string, error) { return token, nil },
		Health:       store.Ping,
		Log:          log,
		CreateLimit:  o.limits.createThrottle(o.createRate, o.createBurst),
		Backlog:      workflows.Pending,
		MaxBacklog:   o.maxBacklog,
		Events:       live,
	})
	srv := newHTTPServer(site(handler, siteConfig{mode: "local"}), log, o.limits)
	// Live streams never end by themselves: close them first when shutting down.
	srv.RegisterOnShutdown(live.Close)

	if o.pprofAddr != "" {
		if err := servePprof(o.pprofAddr, log); err != nil {
			return err
		}
	}
	sweepCtx, stopSweeping := context.WithCancel(context.WithoutCancel(ctx))
	sweepDone := make(chan struct{})
	go func() { runSweeper(sweepCtx, sweeper, log); close(sweepDone) }()
	if o.retention > 0 {
		go runRetention(sweepCtx, executions, o.retention, log)
	}
	go intakeService.RunHeartbeats(sweepCtx, intake.RealClock{}, heartbeatEvery)
	if reporters != nil {
		go runMailSweeper(mailCtx, reporters)
	}
	var mailIn *smtpd.Server
	if o.mail.smtpListen != "" {
		if mailIn, err = listenMail(&o.mail, intakeService, log); err != nil {
			stopSweeping()
			<-sweepDone
			return fmt.Errorf("--smtp-listen: %w", err)
		}
		fmt.Fprintf(stdout, "Email in on %s for %s\n", mailIn.Addr(), strings.Join(o.mail.support, ", "))
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var sfnServer *http.Server
	if o.sfnAddr != "" {
		var sfnURL string
		sfnURL, sfnServer, err = serveStepFunctions(o, log, executions, workflows)
		if err != nil {
			srv.Close()
			stopSweeping()
			<-sweepDone
			workflows.Shutdown(context.Background())
			return err
		}
		fmt.Fprintf(stdout, "Step Functions API on %s (state machine %s)\n", sfnURL, o.sfnMachineArn)
	}
	fmt.Fprintf(stdout, "Incident Manager listening on %s\n", url)
	fmt.Fprintf(stdout, "Admin token: %s (sign in at %s/#/admin)\n", tokenPath, url)
	fmt.Fprintf(stdout, "Data: %s\n", o.data)

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		log.Info("shutting down: no new tickets; letting deliveries in progress finish")
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shutCtx)
		cancel()
	}
	if mailIn != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		mailIn.Shutdown(shutCtx)
		cancel()
	}
	stopSweeping()
	<-sweepDone
	if sfnServer != nil {
		sfnServer.Close()
	}
	// Executions in progress stop at their next step once the task they are running has
	// finished and been recorded; what is left stays PENDING in the store and is taken up
	// at the next start. Nothing in flight is cut off (and so sent again).
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if derr := workflows.Shutdown(drainCtx); derr != nil {
		log.Warn("deliveries still in progress at shutdown were cut off; they are retried at the next start", "err", derr)
	}
	return err
}

// The embedded sweeper: it knows which executions are queued or running here (the data
// directory is locked to this process), so any other PENDING ticket is one nobody is working
// on, and it is started again within seconds.
const (
	sweepEvery      = time.Second
	sweepStaleAfter = 2 * time.Second
	sweepBatch      = 500
	// drainTimeout bounds the wait for deliveries in progress at shutdown: longer than one
	// webhook request (webhook.DefaultTimeout).
	drainTimeout = 20 * time.Second
)

// runSweeper restarts every ticket left PENDING by a previous process, then, until ctx is
// done, every ticket left PENDING by a start that failed or a run that died.
func runSweeper(ctx context.Context, sw *tasks.Sweep, log *slog.Logger) {
	sweep := func(before time.Time) {
		total := 0
		for ctx.Err() == nil {
			res, err := sw.Before(ctx, before)
			total += len(res.Restarted)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("sweep pending tickets", "err", err)
				}
				break
			}
			// A full batch may leave more behind: each restart moved its ticket past before.
			if len(res.Restarted)+len(res.GaveUp)+res.Active < sweepBatch {
				break
			}
			if len(res.Restarted)+len(res.GaveUp) == 0 {
				break // a batch of active executions only: nothing more to do now
			}
		}
		if total > 0 {
			log.Info("sweeper restarted notifications", "count", total)
		}
	}
	// Nothing of a previous process is running: every PENDING ticket needs a start.
	sweep(time.Now())
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			sweep(time.Now().Add(-sweepStaleAfter))
		}
	}
}

// runRetention deletes execution history older than keep, an hour apart, a batch at a time so
// that it never holds up the writer for long.
func runRetention(ctx context.Context, x *sqlite.Executions, keep time.Duration, log *slog.Logger) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		total := 0
		for ctx.Err() == nil {
			n, err := x.DeleteBefore(ctx, time.Now().Add(-keep), 1000)
			total += n
			if err != nil {
				log.Warn("delete old execution history", "err", err)
				break
			}
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			log.Info("deleted old execution history", "executions", total, "olderThan", keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// serveStepFunctions serves the Step Functions API on o.sfnAddr: the service the embedded
// server runs its own executions on, or, with --lambda-endpoint, one whose Task states call
// Lambda functions behind the Invoke API: the AWS code path (create Lambda → StartExecution →
// task Lambdas) on one machine.
func serveStepFunctions(o serveOptions, log *slog.Logger, executions ticket.ExecutionStore, local *sfnapi.Service) (string, *http.Server, error) {
	var handler http.Handler = local
	if o.lambdaEndpoint != "" {
		invoker := lambdainvoke.New(aws.Config{
			Region:      "us-east-1",
			Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		}, lambdainvoke.Endpoint(o.lambdaEndpoint))
		machine, err := statemachine.Load(statemachine.SAMFunctionArn)
		if err != nil {
			return "", nil, err
		}
		handler = sfnapi.New(sfnapi.Config{Machines: []sfnapi.Machine{{Arn: o.sfnMachineArn, Type: sfnapi.Express, Definition: machine}}, Invoker: invoker, Executions: executions, Log: log})
	}
	ln, err := net.Listen("tcp", o.sfnAddr)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), srv, nil
}
