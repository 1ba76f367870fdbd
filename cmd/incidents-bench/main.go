// Command incidents-bench is `make bench`: it measures the whole product from outside over
// HTTP on 127.0.0.1 (incidents serve with a webhook sink, beside a bare net/http server, closed
// and open loop, store sizes seeded straight into SQLite) and writes BENCHMARKS.md with its
// charts. Every setting is a flag whose default comes from a BENCH_* environment variable.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/incidentmanager/incidents/internal/bench"
)

func main() {
	bench.ServeBareIfChild()
	os.Exit(run())
}

func run() int {
	var (
		opt                          bench.Options
		clients, rates, sizes, extra string
		fs                           = flag.NewFlagSet("incidents-bench", flag.ContinueOnError)
	)
	fs.StringVar(&opt.Out, "out", env("BENCH_OUT", "."), "write BENCHMARKS.md and docs/bench/*.png under `DIR`")
	fs.StringVar(&opt.Bin, "bin", env("INCIDENTS_BIN", ""), "measure this incidents `binary` (default: build one as make bin does)")
	fs.StringVar(&extra, "serve-args", env("BENCH_SERVE_ARGS", ""), "extra `flags` for every incidents serve, e.g. \"--workers 64\"")
	fs.StringVar(&clients, "clients", env("BENCH_CLIENTS", "1,8,32"), "closed loop: concurrent `clients`, comma-separated")
	fs.DurationVar(&opt.Duration, "duration", envDuration("BENCH_DURATION", 5*time.Second), "closed loop: length of one run")
	fs.IntVar(&opt.Runs, "runs", envInt("BENCH_RUNS", 3), "closed loop: runs per load (the median is reported)")
	fs.StringVar(&rates, "rates", env("BENCH_RATES", "100,1000"), "open loop: offered tickets a `second`, comma-separated")
	fs.DurationVar(&opt.OpenDuration, "open-duration", envDuration("BENCH_OPEN_DURATION", 10*time.Second), "open loop: length of one run")
	fs.IntVar(&opt.OpenRuns, "open-runs", envInt("BENCH_OPEN_RUNS", 1), "open loop: runs per rate")
	fs.IntVar(&opt.OpenWorkers, "open-workers", envInt("BENCH_OPEN_WORKERS", 256), "open loop: requests in flight, at most")
	fs.StringVar(&sizes, "sizes", env("BENCH_SIZES", "10k,100k"), "store `sizes` to seed and measure, e.g. 10k,100k,1m (\"\" for none)")
	fs.DurationVar(&opt.SizeDuration, "size-duration", envDuration("BENCH_SIZE_DURATION", 5*time.Second), "store sizes: length of the 8-client create run")
	fs.IntVar(&opt.Warmup, "warmup", envInt("BENCH_WARMUP", 200), "tickets filed before each measured run")
	fs.DurationVar(&opt.DrainTimeout, "drain-timeout", envDuration("BENCH_DRAIN_TIMEOUT", 30*time.Second), "wait at most this long for a run's notifications")
	fs.BoolVar(&opt.Micro, "micro", envInt("BENCH_MICRO", 1) != 0, "also run the in-process micro-benchmarks (go test -tags bench)")
	fs.BoolVar(&opt.Keep, "keep", envInt("BENCH_KEEP", 0) != 0, "keep the temporary directory (data, logs)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 64
	}
	var err error
	if opt.Clients, err = ints(clients); err == nil {
		if opt.Rates, err = floats(rates); err == nil {
			opt.Sizes, err = bench.ParseSizes(sizes)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "incidents-bench:", err)
		return 64
	}
	opt.ServeArgs = strings.Fields(extra)
	opt.Log = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "incidents-bench:", err)
		return 1
	}
	rep.Summary(os.Stdout)
	return 0
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

func ints(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("clients %q: want positive whole numbers", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("rate %q: want positive numbers", f)
		}
		out = append(out, v)
	}
	return out, nil
}
