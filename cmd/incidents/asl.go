package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/incidentmanager/incidents/internal/asl"
)

// Exit codes of `incidents asl`.
const (
	aslExitOK         = exitOK
	aslExitInvalidDef = 2
	aslExitUsage      = exitUsage
)

const aslUsage = `Usage:
  incidents asl run --definition FILE [--input JSON | --input-file FILE] [flags]
  incidents asl validate --definition FILE

run executes the definition in Incident Manager's Amazon States Language engine and prints
{"status", "output", "error", "cause"} as one JSON object; validate checks it as
CreateStateMachine would. Run "incidents asl run --help" for every flag.
`

// aslCommand runs `incidents asl run|validate ...` (args exclude "asl").
func aslCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, aslUsage)
		return aslExitUsage
	}
	switch args[0] {
	case "run":
		return aslRun(ctx, args[1:], stdin, stdout, stderr)
	case "validate":
		return aslValidate(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, aslUsage)
		return aslExitOK
	}
	fmt.Fprintf(stderr, "incidents asl: unknown subcommand %q%s (want run or validate)\n", args[0], suggest(args[0], []string{"run", "validate"}))
	return aslExitUsage
}

func aslValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("incidents asl validate", flag.ContinueOnError)
	defPath := fs.String("definition", "", "state machine definition (JSON `FILE`)")
	if code, done := parseFlags(fs, args, "Usage: incidents asl validate --definition FILE\n\nChecks a definition as Step Functions' CreateStateMachine would; prints {\"valid\": true} or the error.\n", stdout, stderr); done {
		return code
	}
	if *defPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: incidents asl validate --definition FILE")
		return aslExitUsage
	}
	if _, _, code := aslLoad(*defPath, stdout, stderr); code >= 0 {
		return code
	}
	aslWriteJSON(stdout, map[string]any{"valid": true})
	return aslExitOK
}

const aslRunSynopsis = `Usage: incidents asl run --definition FILE [--input JSON | --input-file FILE] [flags]

Runs the definition in this engine and prints one JSON object {"status", "output", "error",
"cause"}; it exits 0 whenever the execution ran (whatever its status), 2 for an invalid
definition, 64 for a wrong command line and 130 when stopped by Ctrl-C or SIGTERM (the
execution is then ABORTED). Task states call nothing real: a Task whose resource is bound with
--stub returns that JSON (or fails with --fail); any other Task fails with States.TaskFailed.
A definition with SAM substitutions left in it (${Name}) needs each one stubbed.
`

// taskBindings collects --stub NAME=JSON and --fail NAME=ERROR.
type taskBindings map[string]aslTaskBinding

type aslTaskBinding struct {
	result json.RawMessage // the task's result, or
	fail   string          // the error name it fails with
}

type bindingFlag struct {
	m    taskBindings
	fail bool
}

func (b bindingFlag) String() string { return "" }

func (b bindingFlag) Set(v string) error {
	name, val, ok := strings.Cut(v, "=")
	name = strings.TrimSuffix(strings.TrimPrefix(name, "${"), "}")
	if !ok || name == "" {
		return errors.New("want NAME=VALUE, where NAME is a Task's Resource or a ${NAME} substitution")
	}
	if b.fail {
		if val == "" {
			return errors.New("want NAME=ERROR with an error name, e.g. TransientError")
		}
		b.m[name] = aslTaskBinding{fail: val}
		return nil
	}
	if !json.Valid([]byte(val)) {
		return fmt.Errorf("the result for %s is not valid JSON", name)
	}
	b.m[name] = aslTaskBinding{result: json.RawMessage(val)}
	return nil
}

func aslRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("incidents asl run", flag.ContinueOnError)
	defPath := fs.String("definition", "", "state machine definition (JSON `FILE`)")
	input := fs.String("input", "", "execution input (`JSON` text; default {})")
	inputFile := fs.String("input-file", "", "execution input (JSON `FILE`, - for stdin)")
	virtual := fs.Bool("virtual-time", false, "Wait states and retry delays advance a virtual clock instead of sleeping")
	name := fs.String("name", "", "execution `NAME` (default a random UUID)")
	history := fs.Bool("history", false, "include the execution history events")
	bindings := taskBindings{}
	fs.Var(bindingFlag{m: bindings}, "stub", "Tasks whose Resource is `NAME` (or ${NAME}) return this JSON: NAME=JSON (repeatable)")
	fs.Var(bindingFlag{m: bindings, fail: true}, "fail", "Tasks whose Resource is `NAME` (or ${NAME}) fail with this error: NAME=ERROR (repeatable)")
	if code, done := parseFlags(fs, args, aslRunSynopsis, stdout, stderr); done {
		return code
	}
	if *defPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, `incidents asl run: --definition FILE is required (run "incidents asl run --help" for every flag)`)
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
	m, def, code := aslLoad(*defPath, stdout, stderr)
	if code >= 0 {
		return code
	}
	if missing := unboundSubstitutions(def, bindings); len(missing) > 0 {
		fmt.Fprintf(stderr, "incidents asl run: %s still has SAM definition substitutions (%s), which sam deploy fills with real ARNs and incidents serve binds to its task handlers.\n", *defPath, "${"+strings.Join(missing, "}, ${")+"}")
		fmt.Fprintf(stderr, "To run it here, give each one a result, e.g. %s (see --help for --stub and --fail).\n", stubExample(missing))
		return aslExitUsage
	}
	opt := asl.RunOptions{Name: *name, Invoker: bindings}
	if *virtual {
		opt.Clock = asl.NewVirtualClock(time.Now())
	}
	ex := m.Run(ctx, in, opt)
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
	if ex.Status == asl.StatusAborted && ctx.Err() != nil {
		fmt.Fprintln(stderr, "incidents asl run: stopped by a signal; the execution was aborted")
		return exitInterrupted
	}
	return aslExitOK
}

var substitution = regexp.MustCompile(`\$\{([^}]*)\}`)

// unboundSubstitutions lists the ${Name} substitutions in def that no binding covers, sorted.
func unboundSubstitutions(def []byte, b taskBindings) []string {
	var missing []string
	for _, m := range substitution.FindAllSubmatch(def, -1) {
		name := string(m[1])
		if _, ok := b[name]; !ok && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}

func stubExample(names []string) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("--stub '%s={}'", n))
	}
	return strings.Join(parts, " ")
}

// Invoke answers a Task from its binding; an unbound resource fails as a Task would on AWS
// with nothing behind it.
func (b taskBindings) Invoke(_ context.Context, resource string, _ json.RawMessage) (json.RawMessage, error) {
	key := strings.TrimSuffix(strings.TrimPrefix(resource, "${"), "}")
	bound, ok := b[key]
	switch {
	case !ok:
		return nil, &asl.TaskFailure{Name: "States.TaskFailed", Cause: "no handler is bound to resource " + resource + " (bind one with --stub or --fail)"}
	case bound.fail != "":
		return nil, &asl.TaskFailure{Name: bound.fail, Cause: "failed by --fail " + key + "=" + bound.fail}
	}
	return bound.result, nil
}

// aslLoad reads and parses a definition; code is -1 on success.
func aslLoad(path string, stdout, stderr io.Writer) (*asl.Machine, []byte, int) {
	def, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "incidents asl: %v\n", err)
		return nil, nil, aslExitUsage
	}
	m, err := asl.Parse(def)
	var de *asl.DefinitionError
	if errors.As(err, &de) {
		aslWriteJSON(stdout, map[string]any{"status": "INVALID_DEFINITION", "error": de.Code, "cause": de.Message})
		return nil, nil, aslExitInvalidDef
	}
	if err != nil {
		aslWriteJSON(stdout, map[string]any{"status": "INVALID_DEFINITION", "error": "INVALID_DEFINITION", "cause": err.Error()})
		return nil, nil, aslExitInvalidDef
	}
	return m, def, -1
}

func aslWriteJSON(w io.Writer, v any) {
	e := json.NewEncoder(w)
	e.SetEscapeHTML(false)
	_ = e.Encode(v)
}
