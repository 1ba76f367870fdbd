package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Exit codes shared by every command.
const (
	exitOK          = 0
	exitUsage       = 64  // EX_USAGE: a mistyped command line
	exitInterrupted = 130 // 128 + SIGINT: stopped by a signal before finishing
)

// parseFlags parses args into fs the way every incidents command does: --help prints the
// command's usage and flags on stdout (exit 0); a mistyped flag is one line on stderr, with
// the closest known flag when there is one, rather than every flag. done reports that the
// command must exit now with code.
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return exitOK, false
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, synopsis)
		printFlags(stdout, fs)
		return exitOK, true
	}
	fmt.Fprintln(stderr, flagError(fs, err))
	return exitUsage, true
}

var singleDashFlag = regexp.MustCompile(`(^|[ :])-([A-Za-z])`)

// flagError turns the flag package's error into one line naming the command, with a
// suggestion for an unknown flag.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	hint := fmt.Sprintf(`run "%s --help" for every flag`, fs.Name())
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if s := closestFlag(fs, name); s != "" {
			return fmt.Sprintf("%s: unknown flag --%s; did you mean --%s? (%s)", fs.Name(), name, s, hint)
		}
		return fmt.Sprintf("%s: unknown flag --%s (%s)", fs.Name(), name, hint)
	}
	// The flag package writes flags with one dash; the help and the README use two.
	return fmt.Sprintf("%s: %s (%s)", fs.Name(), singleDashFlag.ReplaceAllString(msg, "$1--$2"), hint)
}

// closestFlag is the defined flag nearest to name: the only one it is a prefix of, or the one
// within a couple of typing mistakes; "" when none is close.
func closestFlag(fs *flag.FlagSet, name string) string {
	best, bestDist := "", 0
	var prefixed []string
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, name) {
			prefixed = append(prefixed, f.Name)
		}
		d := editDistance(name, f.Name)
		if best == "" || d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	if best != "" && bestDist <= max(2, len(name)/4) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// printFlags lists fs's flags with two dashes, as the README writes them.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "\nFlags:")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintln(w, line)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintln(w, "        "+usage)
	})
}

// version is the release this binary was built as; the Makefile sets it from git describe
// (-ldflags "-X main.version=…"). Empty: the module version Go recorded (see versionLine).
var version string

// versionLine is what --version prints: the version, the commit it was built from, and the
// Go toolchain, read from the build information Go embeds in every binary.
func versionLine() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok {
		v = info.Main.Version
	}
	if v == "" {
		v = "(unknown)"
	}
	var details []string
	if ok {
		var rev, at, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			details = append(details, "commit "+rev[:min(12, len(rev))])
		}
		if at != "" {
			details = append(details, at)
		}
		if modified == "true" {
			details = append(details, "with uncommitted changes")
		}
	}
	details = append(details, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("incidents %s (%s)", v, strings.Join(details, ", "))
}
