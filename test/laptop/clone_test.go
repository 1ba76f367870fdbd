package laptop_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/incidentmanager/incidents/internal/servetest"
)

// scratch holds what the tests of this package make (the copy of the repository); TestMain
// removes it.
var scratch string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "incidents-laptop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	scratch = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	cloneOnce sync.Once
	cloneDir  string
	cloneErr  error
)

// clone returns a copy of the repository as a fresh clone would have it: the files git tracks
// plus those it would commit (the working tree's versions, so uncommitted work is what gets
// tested), in <scratch>/clone/incidents, with no shared/ folder beside it and no node_modules.
func clone(t *testing.T) string {
	t.Helper()
	cloneOnce.Do(func() {
		cloneDir, cloneErr = copyRepo(servetest.RepoRoot(t), filepath.Join(scratch, "clone", "incidents"))
	})
	if cloneErr != nil {
		t.Fatalf("copying the repository: %v", cloneErr)
	}
	return cloneDir
}

func copyRepo(root, dst string) (string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files (the test needs git and a checkout): %w", err)
	}
	for _, rel := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if rel == "" || rel == "node_modules" || strings.HasPrefix(rel, "node_modules/") {
			continue
		}
		src, to := filepath.Join(root, rel), filepath.Join(dst, rel)
		st, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // tracked but deleted in the working tree
		}
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return "", err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return "", err
			}
			if err := os.Symlink(target, to); err != nil {
				return "", err
			}
			continue
		}
		if err := copyFile(src, to, st.Mode().Perm()); err != nil {
			return "", err
		}
	}
	return dst, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cloneEnv is the environment of a user's shell in the clone: no CI, no ASL_CORPUS, and Go
// kept off the network (the module cache is shared, so nothing needs fetching).
func cloneEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CI", "ASL_CORPUS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{"GOPROXY=off", "GOFLAGS=-mod=readonly"}, extra...)...)
}

func runIn(t *testing.T, dir string, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCloneWithoutSharedCorpus: a user's clone has no ../shared. The engine's tests pass there,
// and make corpus says in one line that the recorded corpus was not found, unless CI=true,
// where its absence fails.
func TestCloneWithoutSharedCorpus(t *testing.T) {
	dir := clone(t)
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "shared")); err == nil {
		t.Fatal("the clone has a shared/ folder beside it")
	}

	out, err := runIn(t, dir, 5*time.Minute, cloneEnv(), "make", "--no-print-directory", "corpus")
	if err != nil {
		t.Fatalf("make corpus in a clone without ../shared: %v\n%s", err, out)
	}
	var notes []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ASL corpus: not found") {
			notes = append(notes, l)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "required when CI=true") {
		t.Errorf("make corpus printed %d lines about the missing corpus, want one that says CI=true needs it:\n%s", len(notes), out)
	}
	if !strings.Contains(out, "--- SKIP: TestCorpus") {
		t.Errorf("make corpus did not report TestCorpus skipped:\n%s", out)
	}

	out, err = runIn(t, dir, 5*time.Minute, cloneEnv(), "go", "test", "-count=1", "./internal/asl/")
	if err != nil {
		t.Errorf("go test ./internal/asl/ in the clone: %v\n%s", err, out)
	}

	out, err = runIn(t, dir, 5*time.Minute, cloneEnv("CI=true"), "go", "test", "-count=1", "-run", "^TestCorpus$", "./internal/asl/")
	if err == nil || !strings.Contains(out, "required when CI=true") {
		t.Errorf("with CI=true and no corpus: err %v, want a failure that says the corpus is required:\n%s", err, out)
	}
}
