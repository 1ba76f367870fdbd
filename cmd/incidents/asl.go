package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
)

// Exit codes of `incidents asl`.
const (
	aslExitOK         = 0
	aslExitInvalidDef = 2
	aslExitUsage      = 64
)

// aslCommand runs `incidents asl run|validate ...` (args exclude "asl").
func aslCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: incidents asl run|validate --definition FILE [flags]")
		return aslExitUsage
	}
	switch args[0] {
	case "run":
		return aslRun(args[1:], stdin, stdout, stderr)
	case "validate":
		return aslValidate(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "incidents asl: unknown subcommand %q (want run or validate)\n", args[0])
	return aslExitUsage
}

func aslValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("asl validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defPath := fs.String("definition", "", "state machine definition (JSON file)")
	if err := fs.Parse(args); err != nil || *defPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: incidents asl validate --definition FILE")
		return aslExitUsage
	}
	if _, code := aslLoad(*defPath, stdout, stderr); code >= 0 {
		return code
	}
	aslWriteJSON(stdout, map[string]any{"valid": true})
	return aslExitOK
}

func aslRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("asl run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defPath := fs.String("definition", "", "state machine definition (JSON file)")
	input := fs.String("input", "", "execution input (JSON text)")
	inputFile := fs.String("input-file", "", "execution input (JSON file, - for stdin)")
	virtual := fs.Bool("virtual-time", false, "Wait states and retry delays take no wall time")
	name := fs.String("name", "", "execution name (default a random UUID)")
	history := fs.Bool("history", false, "include the execution history events")
	if err := fs.Parse(args); err != nil || *defPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: incidents asl run --definition FILE [--input JSON | --input-file F] [--virtual-time] [--name N] [--history]")
		return aslExitUsage
	}
	if *input != "" && *inputFile != "" {
		fmt.Fprintln(stderr, "incidents asl run: --input and --input-file are mutually exclusive")
		return aslExitUsage
	}
	in := []byte(*input)
	if *inputFile != "" {
		var err error
		if *inputFile == "-" {
			in, err = io.ReadAll(stdin)
		} else {
			in, err = os.ReadFile(*inputFile)
		}
		if err != nil {
			fmt.Fprintf(stderr, "incidents asl run: %v\n", err)
			return aslExitUsage
		}
	}
	if len(in) == 0 {
		in = []byte("{}")
	}
	if !json.Valid(in) {
		fmt.Fprintln(stderr, "incidents asl run: the input is not valid JSON")
		return aslExitUsage
	}
	m, code := aslLoad(*defPath, stdout, stderr)
	if code >= 0 {
		return code
	}
	opt := asl.RunOptions{Name: *name, Invoker: aslUnboundInvoker{}}
	if *virtual {
		opt.Clock = asl.NewVirtualClock(time.Now())
	}
	ex := m.Run(context.Background(), in, opt)
	out := map[string]any{"status": ex.Status, "output": nil, "error": nil, "cause": nil}
	if ex.Output != nil {
		out["output"] = json.RawMessage(ex.Output)
	}
	if ex.Status == asl.StatusFailed || ex.Status == asl.StatusTimedOut {
		if ex.Error != "" {
			out["error"] = ex.Error
		}
		if ex.Cause != "" {
			out["cause"] = ex.Cause
		}
	}
	if *history {
		out["events"] = ex.Events
	}
	aslWriteJSON(stdout, out)
	return aslExitOK
}

// aslLoad reads and parses a definition; code is -1 on success.
func aslLoad(path string, stdout, stderr io.Writer) (*asl.Machine, int) {
	def, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "incidents asl: %v\n", err)
		return nil, aslExitUsage
	}
	m, err := asl.Parse(def)
	var de *asl.DefinitionError
	if errors.As(err, &de) {
		aslWriteJSON(stdout, map[string]any{"status": "INVALID_DEFINITION", "error": de.Code, "cause": de.Message})
		return nil, aslExitInvalidDef
	}
	if err != nil {
		aslWriteJSON(stdout, map[string]any{"status": "INVALID_DEFINITION", "error": "INVALID_DEFINITION", "cause": err.Error()})
		return nil, aslExitInvalidDef
	}
	return m, -1
}

// aslUnboundInvoker fails every Task: the CLI binds no handlers to resources.
type aslUnboundInvoker struct{}

func (aslUnboundInvoker) Invoke(_ context.Context, resource string, _ json.RawMessage) (json.RawMessage, error) {
	return nil, &asl.TaskFailure{Name: "States.TaskFailed", Cause: "no handler is bound to resource " + resource}
}

func aslWriteJSON(w io.Writer, v any) {
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
}
