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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `Incident Manager

Usage:
  incidents serve [--addr 127.0.0.1:8080] [--data ./data] [--webhook URL]...
  incidents asl run --definition FILE --input JSON [--virtual-time] [--history]
  incidents asl validate --definition FILE

Run "incidents serve -h" for every serve flag.
`

// run is the whole program, so tests can run it in process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 64
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stdout, stderr)
	case "asl":
		return aslCommand(args[1:], stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "incidents: unknown command %q\n\n%s", args[0], usage)
	return 64
}
