package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/ticket"
)

// Options say what Run measures and for how long. Zero values are not defaults: the command
// (cmd/incidents-bench) fills them in.
type Options struct {
	// Out is the directory BENCHMARKS.md and docs/bench/*.png are written to ("" writes
	// nothing).
	Out string
	// Bin is a prebuilt incidents binary; "" builds one (as make bin does) into a temp dir.
	Bin string
	// ServeArgs are added to every `incidents serve` (for example --workers 64).
	ServeArgs []string

	// Closed loop: Clients concurrent clients, Runs runs of Duration each.
	Clients  []int
	Duration time.Duration
	Runs     int
	// Open loop: Rates tickets a second offered, OpenRuns runs of OpenDuration each, through
	// up to OpenWorkers requests in flight.
	Rates        []float64
	OpenDuration time.Duration
	OpenRuns     int
	OpenWorkers  int
	// Sizes are the store sizes measured (tickets seeded straight into the database);
	// SizeDuration is the length of the 8-client create run at each.
	Sizes        []int
	SizeDuration time.Duration
	// Warmup tickets are filed (and delivered) before each measured run of incidents serve.
	Warmup int
	// DrainTimeout bounds the wait for the notifications of a run's tickets after its load.
	DrainTimeout time.Duration
	// Micro also runs the in-process micro-benchmarks (go test -tags bench) and reports them.
	Micro bool
	// Keep leaves the temporary directory (binaries, data, logs) in place.
	Keep bool

	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Report is everything one Run measured.
type Report struct {
	Options Options
	Machine Machine
	Started time.Time
	Took    time.Duration

	// Closed and Open hold a bare and a serve result per load, in order.
	Closed, Open []LoadResult
	Sizes        []SizeResult
	// Startups are the start-to-ready times of incidents serve on an empty data directory.
	Listening, Ready Dist
	// Micro is the micro-benchmarks' table as printed.
	Micro string
	// Files are the files written, relative to Options.Out.
	Files []string
}

type bench struct {
	opt  Options
	tmp  string
	bin  string
	sink *sink
	bare *process
	runs int // data directories made

	listening, ready []time.Duration
}

// Run measures the whole product from outside over HTTP, beside a bare net/http server, and
// writes the report (when Options.Out is set).
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	rep := &Report{Options: opt, Started: time.Now()}
	rep.Machine = describeMachine()
	tmp, err := os.MkdirTemp("", "incidents-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{opt: opt, tmp: tmp}
	defer func() {
		if opt.Keep {
			fmt.Fprintf(opt.Log, "kept %s\n", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()
	if b.bin = opt.Bin; b.bin == "" {
		b.logf("building incidents")
		if b.bin, err = build(tmp); err != nil {
			return nil, err
		}
	}
	if b.sink, err = startSink(); err != nil {
		return nil, err
	}
	defer b.sink.Close()
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	if b.bare, err = startProcess(self, nil, []string{roleEnv + "=bare"}, filepath.Join(tmp, "bare.log")); err != nil {
		return nil, fmt.Errorf("bare server: %w", err)
	}
	defer b.bare.stop(5 * time.Second)

	for _, c := range opt.Clients {
		bare, serve, err := b.pair(ctx, fmt.Sprintf("closed loop, %d clients", c), opt.Runs, func(p *process, target string) (LoadResult, error) {
			return b.closed(ctx, p, target, c, opt.Duration)
		})
		if err != nil {
			return nil, err
		}
		rep.Closed = append(rep.Closed, bare, serve)
	}
	for _, rate := range opt.Rates {
		bare, serve, err := b.pair(ctx, fmt.Sprintf("open loop, %g/s", rate), opt.OpenRuns, func(p *process, target string) (LoadResult, error) {
			return b.open(ctx, p, target, rate, opt.OpenDuration, opt.OpenWorkers)
		})
		if err != nil {
			return nil, err
		}
		rep.Open = append(rep.Open, bare, serve)
	}
	if len(opt.Sizes) > 0 {
		if rep.Sizes, err = b.sizes(ctx); err != nil {
			return nil, err
		}
	}
	rep.Listening, rep.Ready = distOf(b.listening), distOf(b.ready)
	if opt.Micro {
		b.logf("in-process micro-benchmarks (go test -tags bench)")
		if rep.Micro, err = micro(ctx, opt.Out); err != nil {
			return nil, err
		}
	}
	rep.Machine.LoadEnd = loadAverage()
	rep.Took = time.Since(rep.Started)
	if opt.Out != "" {
		if rep.Files, err = rep.write(opt.Out); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.opt.Log, "bench: "+format+"\n", args...)
}

// build compiles incidents as make bin does.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "incidents")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "github.com/incidentmanager/incidents/cmd/incidents")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build incidents: %w\n%s", err, out)
	}
	return bin, nil
}

// pair runs one load runs times against the bare server and against a fresh incidents serve
// each time (its own empty data directory, so no run inherits another's backlog), bare and
// serve taking turns so that the machine's other work falls on both alike.
func (b *bench) pair(ctx context.Context, name string, runs int, fn func(*process, string) (LoadResult, error)) (bare, serve LoadResult, err error) {
	var bares, serves []LoadResult
	for i := range runs {
		r, err := fn(b.bare, "bare")
		if err != nil {
			return bare, serve, err
		}
		b.logf("%s, run %d/%d: bare  %s", name, i+1, runs, brief(r))
		bares = append(bares, r)

		p, dir, err := b.startServe("")
		if err != nil {
			return bare, serve, err
		}
		r, err = fn(p, "serve")
		p.stop(5 * time.Second)
		os.RemoveAll(dir)
		if err != nil {
			return bare, serve, err
		}
		b.logf("%s, run %d/%d: serve %s", name, i+1, runs, brief(r))
		serves = append(serves, r)
		if ctx.Err() != nil {
			return bare, serve, ctx.Err()
		}
	}
	return median(bares), median(serves), nil
}

func brief(r LoadResult) string {
	s := fmt.Sprintf("%.0f/s p50 %s p99 %s", r.Throughput, ms(r.Latency.P50), ms(r.Latency.P99))
	if n := errorCount(r.Errors); n > 0 {
		s += fmt.Sprintf(", %d errors", n)
	}
	if r.Target == "serve" {
		s += fmt.Sprintf("; webhook p50 %s p99 %s, %s", ms(r.Delivered.P50), ms(r.Delivered.P99), drainText(r))
	}
	return s
}

func errorCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// startServe starts incidents serve on dir ("" makes a fresh one) with the sink as its
// webhook and no create throttle.
func (b *bench) startServe(dir string) (*process, string, error) {
	b.runs++
	if dir == "" {
		dir = filepath.Join(b.tmp, fmt.Sprintf("data-%d", b.runs))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, "", err
		}
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--webhook", b.sink.URL, "--create-rate", "0", "--create-client-rate", "0"}, b.opt.ServeArgs...)
	p, err := startProcess(b.bin, args, nil, filepath.Join(b.tmp, fmt.Sprintf("serve-%d.log", b.runs)))
	if err != nil {
		return nil, "", err
	}
	return p, dir, nil
}

func (b *bench) token(dir string) (string, error) {
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	return strings.TrimSpace(string(tok)), err
}

// warmUp files Warmup tickets at up to 8 clients and, on incidents serve, waits for their
// notifications, so that the measured run starts on a process that has run once.
func (b *bench) warmUp(ctx context.Context, p *process, target string) {
	if b.opt.Warmup <= 0 {
		return
	}
	c := newClient(8)
	defer c.CloseIdleConnections()
	recs := closedLoopCount(ctx, c, min(8, b.opt.Warmup), b.opt.Warmup, 30*time.Second, createTicket(p.URL))
	if target == "serve" {
		b.sink.waitAll(createdIDs(recs), b.opt.DrainTimeout)
	}
}

func (b *bench) closed(ctx context.Context, p *process, target string, clients int, d time.Duration) (LoadResult, error) {
	if target == "serve" {
		b.listening, b.ready = append(b.listening, p.Listening), append(b.ready, p.Ready)
	}
	b.warmUp(ctx, p, target)
	return b.measure(ctx, p, target, clients, func(c *http.Client) ([]record, time.Duration) {
		return closedLoop(ctx, c, clients, d, createTicket(p.URL))
	}), ctx.Err()
}

func (b *bench) open(ctx context.Context, p *process, target string, rate float64, d time.Duration, workers int) (LoadResult, error) {
	if target == "serve" {
		b.listening, b.ready = append(b.listening, p.Listening), append(b.ready, p.Ready)
	}
	b.warmUp(ctx, p, target)
	r := b.measure(ctx, p, target, workers, func(c *http.Client) ([]record, time.Duration) {
		return openLoop(ctx, c, rate, d, workers, requestTimeout, createTicket(p.URL))
	})
	r.Clients, r.Rate = 0, rate
	return r, ctx.Err()
}

// measure runs load against p, then (for incidents serve) waits for the notifications of the
// tickets it created, and summarizes.
func (b *bench) measure(ctx context.Context, p *process, target string, conns int, load func(*http.Client) ([]record, time.Duration)) LoadResult {
	b.sink.reset()
	c := newClient(conns)
	defer c.CloseIdleConnections()
	w := watch(p.pid())
	recs, elapsed := load(c)
	loadEnd := time.Now()
	during := w.now()
	r := summarize(target, recs, elapsed)
	r.Clients = conns
	r.Cores = during.Cores()
	if target == "serve" {
		b.deliveries(&r, recs, loadEnd, elapsed)
	}
	r.PeakRSS = w.stop().PeakRSS
	return r
}

// deliveries waits (up to DrainTimeout) for a notification of every ticket created in recs
// and records create → webhook latency, the drain and duplicates.
func (b *bench) deliveries(r *LoadResult, recs []record, loadEnd time.Time, elapsed time.Duration) {
	ids := createdIDs(recs)
	r.Created = len(ids)
	r.DrainTimeout = b.opt.DrainTimeout
	drained, last := b.sink.waitAll(ids, b.opt.DrainTimeout)
	r.Drained = drained
	if drained && last.After(loadEnd) {
		r.Drain = last.Sub(loadEnd)
	}
	var lat []time.Duration
	during := 0
	for _, rec := range recs {
		if rec.id == "" {
			continue
		}
		a, ok := b.sink.lookup(rec.id)
		if !ok {
			r.Undelivered++
			continue
		}
		lat = append(lat, a.first.Sub(rec.sent))
		if !a.first.After(loadEnd) {
			during++
		}
		if a.count > 1 {
			r.Duplicates++
		}
	}
	r.Delivered = distOf(lat)
	if elapsed > 0 {
		r.DeliveredPerSecond = float64(during) / elapsed.Seconds()
	}
}

func createdIDs(recs []record) []string {
	var ids []string
	for _, r := range recs {
		if r.id != "" {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// Size-run constants: low load for one execution's cost; bounds of the sequential reads.
const (
	execRate   = 10
	readBudget = 10 * time.Second
	statsReads = 20
	listReads  = 200
	getReads   = 500
	stopGrace  = 25 * time.Second // longer than incidents serve's own drain at shutdown
)

// sizes measures the server on one data directory grown to each size in turn: seed the
// tickets missing (server stopped), start it, measure, stop it.
func (b *bench) sizes(ctx context.Context) ([]SizeResult, error) {
	sizes := slices.Sorted(slices.Values(b.opt.Sizes))
	p, dir, err := b.startServe("")
	if err != nil {
		return nil, err
	}
	b.logf("sizes: filing the template ticket through HTTP")
	id, err := b.templateTicket(ctx, p)
	p.stop(stopGrace)
	if err != nil {
		return nil, err
	}
	tmpl, err := readTemplate(ctx, dir, id)
	if err != nil {
		return nil, err
	}
	s := newSeeder(tmpl, time.Now().Add(-time.Hour), sizes[len(sizes)-1])
	have := 1
	var out []SizeResult
	for _, size := range sizes {
		res := SizeResult{Size: size, ReadErrors: map[string]int{}}
		if n := size - have; n > 0 {
			b.logf("sizes: seeding %d tickets (with their executions) for %s", n, sizeName(size))
			t0 := time.Now()
			if err := s.seed(ctx, dir, n); err != nil {
				return nil, err
			}
			res.Seed = time.Since(t0)
			b.logf("sizes: seeded in %s", res.Seed.Round(time.Millisecond))
		}
		if err := b.sizeRun(ctx, dir, s.sample, &res); err != nil {
			return nil, err
		}
		have = res.TicketsAfter
		out = append(out, res)
		b.logf("sizes: %s: ready %s, create@8 %.0f/s p99 %s, execution p50 %s, stats p50 %s, list p99 %s, get p99 %s, %.0f B/ticket",
			sizeName(size), ms(res.Ready), res.Create.Throughput, ms(res.Create.Latency.P99), ms(res.Execution.Delivered.P50),
			ms(res.Stats.P50), ms(res.List.P99), ms(res.Get.P99), res.PerTicket())
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// templateTicket files one ticket and waits until its notification has finished.
func (b *bench) templateTicket(ctx context.Context, p *process) (string, error) {
	c := newClient(1)
	defer c.CloseIdleConnections()
	o := createTicket(p.URL)(ctx, c)
	if !o.ok {
		return "", fmt.Errorf("template ticket: POST /ticket answered %s", o.status)
	}
	deadline := time.Now().Add(max(b.opt.DrainTimeout, 10*time.Second))
	for time.Now().Before(deadline) {
		resp, err := c.Get(p.URL + "/ticket/" + o.id)
		if err == nil {
			var t ticket.Ticket
			json.NewDecoder(resp.Body).Decode(&t)
			resp.Body.Close()
			if t.Notification.Status.Final() {
				return o.id, nil
			}
		}
		contextSleep(ctx, 20*time.Millisecond)
	}
	return "", fmt.Errorf("template ticket %s: notification not finished after %s", o.id, b.opt.DrainTimeout)
}

func (b *bench) sizeRun(ctx context.Context, dir string, sample []string, res *SizeResult) error {
	p, _, err := b.startServe(dir)
	if err != nil {
		return err
	}
	defer p.stop(stopGrace)
	res.Listening, res.Ready = p.Listening, p.Ready
	token, err := b.token(dir)
	if err != nil {
		return err
	}
	w := watch(p.pid())
	res.Execution = b.measure(ctx, p, "serve", 4, func(c *http.Client) ([]record, time.Duration) {
		return openLoop(ctx, c, execRate, b.opt.SizeDuration, 4, requestTimeout, createTicket(p.URL))
	})
	res.Execution.Rate = execRate

	c := newClient(1)
	defer c.CloseIdleConnections()
	read := func(n int, do requester) Dist {
		recs := closedLoopCount(ctx, c, 1, n, readBudget, do)
		var lat []time.Duration
		for _, r := range recs {
			if r.ok {
				lat = append(lat, r.latency)
			} else {
				res.ReadErrors[r.status]++
			}
		}
		return distOf(lat)
	}
	res.Stats = read(statsReads, get(p.URL, token, func() string { return "/admin/stats" }))
	res.List = read(listReads, get(p.URL, token, func() string { return "/ticket?limit=25" }))
	res.Get = read(getReads, get(p.URL, "", func() string { return "/ticket/" + sample[rand.IntN(len(sample))] }))

	if res.Tickets, err = storeTotal(ctx, c, p.URL, token); err != nil {
		return err
	}
	res.Create = b.measure(ctx, p, "serve", 8, func(c *http.Client) ([]record, time.Duration) {
		return closedLoop(ctx, c, 8, b.opt.SizeDuration, createTicket(p.URL))
	})
	if res.TicketsAfter, err = storeTotal(ctx, c, p.URL, token); err != nil {
		return err
	}
	res.PeakRSS = w.stop().PeakRSS
	p.stop(stopGrace)
	res.DBBytes = dataBytes(dir)
	return nil
}

// storeTotal is the ticket count GET /admin/stats reports.
func storeTotal(ctx context.Context, c *http.Client, base, token string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET /admin/stats: %w", err)
	}
	defer resp.Body.Close()
	var st ticket.Stats
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /admin/stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("GET /admin/stats: %w", err)
	}
	return st.Total, nil
}

// micro runs the in-process micro-benchmarks of the hot paths and returns their table.
func micro(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-tags", "bench", "-count=1", "-run", "^TestBenchReport$", "-v", "./internal/bench/")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("micro-benchmarks: %w\n%s", err, out)
	}
	var keep []string
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "=== RUN") || strings.HasPrefix(line, "--- PASS") || strings.HasPrefix(line, "PASS") || strings.HasPrefix(line, "ok ") {
			continue
		}
		keep = append(keep, strings.TrimRight(line, "\n"))
	}
	return strings.Join(keep, "\n"), nil
}

// ParseSizes reads a list such as "10k,100k,1m".
func ParseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1_000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1_000_000, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %q: want a positive number, optionally with k or m", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000 && n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return strconv.Itoa(n)
}
