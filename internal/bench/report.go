package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the figures were taken.
type Machine struct {
	CPU, Memory, Kernel, Go, Commit string
	Cores                           int
	Date                            time.Time
	// LoadStart and LoadEnd are /proc/loadavg's 1-, 5- and 15-minute figures: other work on
	// the machine shows there.
	LoadStart, LoadEnd string
}

// describeMachine describes this machine and the checkout in the working directory (the one
// built and measured).
func describeMachine() Machine {
	m := Machine{Go: runtime.Version(), Cores: runtime.NumCPU(), Date: time.Now(), LoadStart: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.Memory = mib(kb * 1024)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.Commit += " with uncommitted changes"
		}
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Report file names, relative to Options.Out.
const (
	reportFile      = "BENCHMARKS.md"
	latencyChart    = "docs/bench/latency.png"
	throughputChart = "docs/bench/throughput.png"
)

// write writes BENCHMARKS.md and its charts under dir and returns their names.
func (r *Report) write(dir string) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "docs", "bench"), 0o755); err != nil {
		return nil, err
	}
	files := []string{reportFile}
	if err := latencyPlot(r, filepath.Join(dir, latencyChart)); err != nil {
		return nil, fmt.Errorf("latency chart: %w", err)
	}
	if err := throughputPlot(r, filepath.Join(dir, throughputChart)); err != nil {
		return nil, fmt.Errorf("throughput chart: %w", err)
	}
	files = append(files, latencyChart, throughputChart)
	var b bytes.Buffer
	r.markdown(&b)
	if err := os.WriteFile(filepath.Join(dir, reportFile), b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return files, nil
}

func (r *Report) markdown(w io.Writer) {
	o := r.Options
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# Benchmarks")
	p("")
	p("Written by `make bench` (`cmd/incidents-bench`): the whole product measured from outside, over HTTP on")
	p("127.0.0.1, beside a bare `net/http` server measured in the same run on the same machine. Figures")
	p("vary between runs and machines (and on a shared machine, with its other work): read the ratios to")
	p("bare. Run `make bench` again rather than editing this file.")
	p("")
	p("## Machine")
	p("")
	p("| | |")
	p("| --- | --- |")
	p("| CPU | %s |", orDash(r.Machine.CPU))
	p("| cores | %d |", r.Machine.Cores)
	p("| memory | %s |", orDash(r.Machine.Memory))
	p("| kernel | %s |", orDash(r.Machine.Kernel))
	p("| Go | %s |", r.Machine.Go)
	p("| commit | %s |", orDash(r.Machine.Commit))
	p("| date | %s |", r.Machine.Date.UTC().Format("2006-01-02 15:04 MST"))
	p("| load average (1, 5, 15 min) at start / end | %s / %s |", r.Machine.LoadStart, r.Machine.LoadEnd)
	p("| the whole bench took | %s |", r.Took.Round(time.Second))
	p("")
	p("## Method")
	p("")
	p("- **bare**: a `net/http` server in a process of its own that decodes the JSON body of `POST /ticket`")
	p("  and answers `201` with it: what this machine can do for an HTTP JSON request at all.")
	p("- **serve**: `incidents serve --addr 127.0.0.1:0 --data <temp dir> --webhook <sink> --create-rate 0 --create-client-rate 0%s`", strings.TrimRight(" "+strings.Join(o.ServeArgs, " "), " "))
	p("  built as `make bin` builds it; SQLite with `synchronous=FULL` (a `201` waits for its fsync), the")
	p("  workflow running, every ticket notified to the outbox and to a webhook sink in the bench process that")
	p("  answers `200` at once and records when each ticket's notification arrived. Each measured run gets a")
	p("  fresh process on an empty data directory, warmed up with %d tickets (delivered before the run).", o.Warmup)
	p("- **The request**: the README's ticket with a fresh `Idempotency-Key`, as the web app sends it,")
	p("  over keep-alive connections.")
	p("- **Closed loop**: N clients each send, wait for the answer, send again, for %s per run; median of %d", o.Duration, o.Runs)
	p("  runs (each figure's median; the throughput of every run in brackets).")
	p("- **Open loop**: tickets sent on a fixed schedule at the offered rate for %s (%d run(s)), up to %d in", o.OpenDuration, o.OpenRuns, o.OpenWorkers)
	p("  flight; latency counts from the time the schedule meant to send each one, so queueing the server")
	p("  causes is charged to it (no coordinated omission).")
	p("- **create → webhook**: from the time the create was sent (or scheduled) to the arrival of the ticket's")
	p("  first notification at the sink. **drain**: how long after the load stopped the last created ticket's")
	p("  notification arrived; the wait is bounded at %s.", o.DrainTimeout)
	p("- **CPU** is the server process's user + system time while the load ran, in cores; **peak RSS** its")
	p("  highest `VmRSS` (sampled every 20 ms) during the run and its drain.")
	p("- Latency is of successful answers; every other outcome is counted under errors by status.")
	p("")

	p("## POST /ticket, closed loop")
	p("")
	p("| clients | server | answered/s (each run) | p50 | p90 | p99 | errors | create → webhook p50 / p99 | notified/s during load | drain | CPU | peak RSS | vs bare |")
	p("| ---: | --- | --- | ---: | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | --- |")
	for i := 0; i+1 < len(r.Closed); i += 2 {
		bare, serve := r.Closed[i], r.Closed[i+1]
		for _, x := range []LoadResult{bare, serve} {
			p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |", x.Clients, targetName(x.Target), throughputText(x),
				ms(x.Latency.P50), ms(x.Latency.P90), ms(x.Latency.P99), errorsText(x.Errors),
				deliveredText(x), notifiedText(x), serveOnly(x, drainText), x.Cores, mib(x.PeakRSS), vsBare(x, bare))
		}
	}
	p("")

	p("## POST /ticket, open loop")
	p("")
	p("| offered/s | server | answered/s | p50 | p90 | p99 | errors | create → webhook p50 / p99 | drain | CPU | peak RSS | vs bare |")
	p("| ---: | --- | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | --- |")
	for i := 0; i+1 < len(r.Open); i += 2 {
		bare, serve := r.Open[i], r.Open[i+1]
		for _, x := range []LoadResult{bare, serve} {
			p("| %g | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %s |", x.Rate, targetName(x.Target), throughputText(x),
				ms(x.Latency.P50), ms(x.Latency.P90), ms(x.Latency.P99), errorsText(x.Errors),
				deliveredText(x), serveOnly(x, drainText), x.Cores, mib(x.PeakRSS), vsBareLatency(x, bare))
		}
	}
	p("")
	p("![Latency of POST /ticket and create → webhook against offered load](%s)", latencyChart)
	p("")
	p("![Throughput of POST /ticket against clients](%s)", throughputChart)
	p("")

	if len(r.Sizes) > 0 {
		r.sizesMarkdown(p)
	}

	p("## Start-up on an empty data directory")
	p("")
	p("Over the %d starts of `incidents serve` above: process start → its \"listening\" line p50 %s (max %s);", r.Ready.N, ms(r.Listening.P50), ms(r.Listening.Max))
	p("→ first `200` from `GET /healthz` p50 %s (max %s).", ms(r.Ready.P50), ms(r.Ready.Max))
	p("")

	if r.Micro != "" {
		p("## In-process micro-benchmarks")
		p("")
		p("The hot paths without HTTP or a second process (`go test -tags bench ./internal/bench/`):")
		p("")
		p("```")
		p("%s", r.Micro)
		p("```")
		p("")
	}

	p("## Reproduce")
	p("")
	p("`make bench` (or `go run ./cmd/incidents-bench -h` for the flags). It builds what it runs, uses only")
	p("127.0.0.1 and a temporary directory, and stops by itself. Settings of this run, each also an")
	p("environment variable:")
	p("")
	p("| variable | this run |")
	p("| --- | --- |")
	p("| `BENCH_CLIENTS` | %s |", joinInts(o.Clients))
	p("| `BENCH_DURATION` × `BENCH_RUNS` | %s × %d |", o.Duration, o.Runs)
	p("| `BENCH_RATES` | %s |", joinFloats(o.Rates))
	p("| `BENCH_OPEN_DURATION` × `BENCH_OPEN_RUNS` | %s × %d |", o.OpenDuration, o.OpenRuns)
	p("| `BENCH_SIZES` (add `1m` for a million tickets: about 8 GiB of disk and 4 more minutes of seeding today) | %s |", joinSizes(o.Sizes))
	p("| `BENCH_SIZE_DURATION` | %s |", o.SizeDuration)
	p("| `BENCH_DRAIN_TIMEOUT` | %s |", o.DrainTimeout)
	p("| `BENCH_WARMUP` | %d |", o.Warmup)
	p("| `BENCH_SERVE_ARGS` | %s |", orDash(strings.Join(o.ServeArgs, " ")))
}

func (r *Report) sizesMarkdown(p func(string, ...any)) {
	bare8, bare1 := r.closed("bare", 8), r.closed("bare", 1)
	p("## Store size")
	p("")
	p("The data directory seeded with tickets copied from one the server filed and notified (each with its")
	p("finished notification, its execution record and an idempotency key; severities and statuses mixed),")
	p("straight into SQLite through `internal/sqlite` (`Store.Create` and `SaveExecution` from %d", seedWriters)
	p("goroutines, group-committed), the server stopped meanwhile; then started on it and measured. Sizes")
	p("grow on one directory, so each holds the tickets earlier sizes filed too. Reads are sequential (one")
	p("client): `GET /admin/stats` and `GET /ticket?limit=25` as admin, `GET /ticket/{id}` (public view) on")
	p("random seeded tickets. One execution's cost is create → webhook at %d tickets a second for %s.", execRate, r.Options.SizeDuration)
	p("")
	head := "| |"
	sep := "| --- |"
	for _, s := range r.Sizes {
		head += " " + sizeName(s.Size) + " |"
		sep += " --- |"
	}
	p("%s", head)
	p("%s", sep)
	row := func(name string, f func(SizeResult) string) {
		line := "| " + name + " |"
		for _, s := range r.Sizes {
			line += " " + f(s) + " |"
		}
		p("%s", line)
	}
	row("tickets in the store (before / after the create run)", func(s SizeResult) string {
		return thousands(s.Tickets) + " / " + thousands(s.TicketsAfter)
	})
	row("seeding them", func(s SizeResult) string { return durText(s.Seed) })
	row("start → listening / → ready", func(s SizeResult) string { return ms(s.Listening) + " / " + ms(s.Ready) })
	row("`POST /ticket` at 8 clients", func(s SizeResult) string {
		t := fmt.Sprintf("%s/s, p50 %s, p99 %s", thousands(int(s.Create.Throughput+0.5)), ms(s.Create.Latency.P50), ms(s.Create.Latency.P99))
		if bare8 != nil && bare8.Throughput > 0 {
			t += fmt.Sprintf(" (%s bare)", ratio(s.Create.Throughput/bare8.Throughput))
		}
		return t
	})
	row("… create → webhook p50 / p99; drain", func(s SizeResult) string { return deliveredText(s.Create) + "; " + drainText(s.Create) })
	row("… errors", func(s SizeResult) string { return errorsText(s.Create.Errors) })
	row("one execution: create → webhook p50 / p99", func(s SizeResult) string { return deliveredText(s.Execution) })
	reads := func(d Dist, asked int) string {
		t := ms(d.P50) + " / " + ms(d.P99)
		var notes []string
		if bare1 != nil && bare1.Latency.P99 > 0 && d.N > 0 {
			notes = append(notes, "p99 "+ratio(float64(d.P99)/float64(bare1.Latency.P99))+" bare")
		}
		if d.N < asked {
			// The reads stop after readBudget: say how few the percentiles rest on.
			notes = append(notes, fmt.Sprintf("only %d answered in %s", d.N, readBudget))
		}
		if len(notes) > 0 {
			t += " (" + strings.Join(notes, "; ") + ")"
		}
		return t
	}
	row(fmt.Sprintf("`GET /admin/stats` p50 / p99 (%d requests)", statsReads), func(s SizeResult) string { return reads(s.Stats, statsReads) })
	row(fmt.Sprintf("`GET /ticket?limit=25` p50 / p99 (%d)", listReads), func(s SizeResult) string { return reads(s.List, listReads) })
	row(fmt.Sprintf("`GET /ticket/{id}` p50 / p99 (%d)", getReads), func(s SizeResult) string { return reads(s.Get, getReads) })
	row("read errors", func(s SizeResult) string { return errorsText(s.ReadErrors) })
	row("database on disk (file + WAL)", func(s SizeResult) string {
		return fmt.Sprintf("%s (%s a ticket)", mib(s.DBBytes), kib(s.PerTicket()))
	})
	row("peak RSS", func(s SizeResult) string { return mib(s.PeakRSS) })
	p("")
	if bare1 != nil {
		p("Ratios of reads are to the bare server's p99 at 1 client (%s); of creates to its throughput at 8.", ms(bare1.Latency.P99))
		p("")
	}
}

// closed returns the closed-loop result of target at clients, or nil.
func (r *Report) closed(target string, clients int) *LoadResult {
	for i := range r.Closed {
		if r.Closed[i].Target == target && r.Closed[i].Clients == clients {
			return &r.Closed[i]
		}
	}
	return nil
}

// Summary is the few lines make bench prints.
func (r *Report) Summary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("")
	p("POST /ticket, incidents serve vs bare net/http (%s, %d cores; load average %s at start):", orDash(r.Machine.CPU), r.Machine.Cores, r.Machine.LoadStart)
	for i := 0; i+1 < len(r.Closed); i += 2 {
		bare, serve := r.Closed[i], r.Closed[i+1]
		p("  %3d clients: %8s/s p99 %-8s (bare %s/s p99 %s); webhook p99 %s, %s",
			serve.Clients, thousands(int(serve.Throughput+0.5)), ms(serve.Latency.P99), thousands(int(bare.Throughput+0.5)), ms(bare.Latency.P99),
			ms(serve.Delivered.P99), drainText(serve))
	}
	for i := 0; i+1 < len(r.Open); i += 2 {
		bare, serve := r.Open[i], r.Open[i+1]
		p("  %6g/s offered: p50 %s p99 %s (bare p99 %s); webhook p50 %s p99 %s, %s",
			serve.Rate, ms(serve.Latency.P50), ms(serve.Latency.P99), ms(bare.Latency.P99), ms(serve.Delivered.P50), ms(serve.Delivered.P99), drainText(serve))
	}
	for _, s := range r.Sizes {
		p("  %s tickets: create@8 %s/s, one execution %s, stats %s, list p99 %s, get p99 %s, %s a ticket, ready in %s",
			sizeName(s.Size), thousands(int(s.Create.Throughput+0.5)), ms(s.Execution.Delivered.P50), ms(s.Stats.P50), ms(s.List.P99), ms(s.Get.P99), kib(s.PerTicket()), ms(s.Ready))
	}
	if len(r.Files) > 0 {
		dir, err := filepath.Abs(r.Options.Out)
		if err != nil {
			dir = r.Options.Out
		}
		p("Wrote %s (and %s) in %s; took %s.", filepath.Join(dir, r.Files[0]), strings.Join(r.Files[1:], ", "), dir, r.Took.Round(time.Second))
	}
}

func targetName(t string) string {
	if t == "serve" {
		return "incidents serve"
	}
	return "bare net/http"
}

func throughputText(x LoadResult) string {
	t := thousands(int(x.Throughput + 0.5))
	if len(x.RunThroughputs) > 1 {
		var runs []string
		for _, v := range x.RunThroughputs {
			runs = append(runs, thousands(int(v+0.5)))
		}
		t += " (" + strings.Join(runs, ", ") + ")"
	}
	return t
}

func serveOnly(x LoadResult, f func(LoadResult) string) string {
	if x.Target != "serve" {
		return ""
	}
	return f(x)
}

func deliveredText(x LoadResult) string {
	if x.Target != "serve" {
		return ""
	}
	t := ms(x.Delivered.P50) + " / " + ms(x.Delivered.P99)
	if x.Duplicates > 0 {
		t += fmt.Sprintf(", %d duplicated", x.Duplicates)
	}
	return t
}

func notifiedText(x LoadResult) string {
	if x.Target != "serve" {
		return ""
	}
	return thousands(int(x.DeliveredPerSecond + 0.5))
}

func drainText(x LoadResult) string {
	switch {
	case x.Target != "serve":
		return ""
	case x.Drained && x.Drain <= 0:
		return "none left when the load stopped"
	case x.Drained:
		return "drained in " + ms(x.Drain)
	case x.Runs > 1:
		return fmt.Sprintf("**not drained after %s** in %d of %d runs (%s tickets undelivered)", x.DrainTimeout, x.NotDrained, x.Runs, thousands(x.Undelivered))
	default:
		return fmt.Sprintf("**not drained after %s** (%s of %s undelivered)", x.DrainTimeout, thousands(x.Undelivered), thousands(x.Created))
	}
}

func errorsText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range errorKeys(m) {
		parts = append(parts, fmt.Sprintf("%s × %s", k, thousands(m[k])))
	}
	return strings.Join(parts, ", ")
}

func vsBare(x, bare LoadResult) string {
	if x.Target != "serve" || bare.Throughput == 0 || bare.Latency.P99 == 0 {
		return ""
	}
	return fmt.Sprintf("%s throughput, %s p99", ratio(x.Throughput/bare.Throughput), ratio(float64(x.Latency.P99)/float64(bare.Latency.P99)))
}

func vsBareLatency(x, bare LoadResult) string {
	if x.Target != "serve" || bare.Latency.P50 == 0 || bare.Latency.P99 == 0 {
		return ""
	}
	return fmt.Sprintf("%s p50, %s p99", ratio(float64(x.Latency.P50)/float64(bare.Latency.P50)), ratio(float64(x.Latency.P99)/float64(bare.Latency.P99)))
}

func ratio(v float64) string {
	switch {
	case v == 0:
		return "0×"
	case v < 0.01:
		return fmt.Sprintf("%.4f×", v)
	case v < 0.1:
		return fmt.Sprintf("%.3f×", v)
	case v < 10:
		return fmt.Sprintf("%.2g×", v)
	}
	return fmt.Sprintf("%.0f×", v)
}

// ms formats a latency with sensible precision.
func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func durText(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return d.Round(100 * time.Millisecond).String()
}

func mib(b int64) string {
	if b <= 0 {
		return "–"
	}
	if b >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func kib(b float64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}

// thousands writes n with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func joinInts(v []int) string {
	var s []string
	for _, n := range v {
		s = append(s, strconv.Itoa(n))
	}
	return orDash(strings.Join(s, ","))
}

func joinFloats(v []float64) string {
	var s []string
	for _, f := range v {
		s = append(s, strconv.FormatFloat(f, 'g', -1, 64))
	}
	return orDash(strings.Join(s, ","))
}

func joinSizes(v []int) string {
	var s []string
	for _, n := range v {
		s = append(s, strings.ToLower(sizeName(n)))
	}
	return orDash(strings.Join(s, ","))
}
