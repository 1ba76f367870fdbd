// Command incidents is Incident Manager on one machine: `incidents serve` runs the web app,
// the HTTP API, the SQLite store and the notification workflow in one process;
// `incidents asl run|validate` runs any Amazon States Language definition in the same engine.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT (Ctrl-C) and SIGTERM cancel ctx: serve shuts down gracefully, asl run aborts the
	// execution (even in a Wait state) and reports it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Incident Manager

Usage:
  incidents serve [--addr 127.0.0.1:8080] [--data ./data] [--webhook URL]...
  incidents asl run --definition FILE [--input JSON] [--virtual-time] [--history] [--stub NAME=JSON]...
  incidents asl validate --definition FILE
  incidents --version

Run "incidents serve --help" or "incidents asl run --help" for every flag.
`

var commands = []string{"serve", "asl", "help", "version"}

// run is the whole program, so tests can run it in process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stdout, stderr)
	case "asl":
		return aslCommand(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	fmt.Fprintf(stderr, "incidents: unknown command %q%s (run \"incidents --help\" for the commands)\n", args[0], suggest(args[0], commands))
	return exitUsage
}

// suggest is "; did you mean X?" for the word in choices closest to s, or "".
func suggest(s string, choices []string) string {
	best, dist := "", 0
	for _, c := range choices {
		if d := editDistance(s, c); best == "" || d < dist {
			best, dist = c, d
		}
	}
	if best != "" && dist <= 2 {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	return ""
}
