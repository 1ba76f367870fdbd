// Package servetest builds the real incidents binary and runs `incidents serve` for end-to-end
// tests (cmd/incidents, the browser tests in web/): on 127.0.0.1:0 with its own data directory,
// reporting its URL, admin token and log.
package servetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Package is the command under test.
const Package = "github.com/incidentmanager/incidents/cmd/incidents"

// Build compiles the binary into dir, or returns INCIDENTS_BIN when that names a prebuilt one.
func Build(dir string) (string, error) {
	if bin := os.Getenv("INCIDENTS_BIN"); bin != "" {
		return bin, nil
	}
	bin := filepath.Join(dir, "incidents")
	// As make bin builds it: pure Go.
	cmd := exec.Command("go", "build", "-o", bin, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", Package, err, out)
	}
	return bin, nil
}

// Server is one running `incidents serve`.
type Server struct {
	URL   string
	Data  string
	Token string
	// Log is what the server wrote to stderr (its structured log).
	Log *Buffer

	cmd     *exec.Cmd
	lines   chan string
	exited  chan struct{}
	exitErr error
}

// Start runs bin serve with data in dir, waits until it listens and has written its admin
// token, and stops it (SIGINT, then SIGKILL after 5 s) when the test ends, printing its log if
// the test failed.
func Start(t testing.TB, bin, dir string, args ...string) *Server {
	t.Helper()
	s := &Server{Data: dir, Log: &Buffer{}, lines: make(chan string, 100), exited: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, args...)...)
	s.cmd.Stderr = s.Log
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
				select {
				case urlc <- u:
				default:
				}
			}
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { s.exitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		s.Stop(5 * time.Second)
		if t.Failed() {
			t.Logf("server log:\n%s", s.Log)
		}
	})
	select {
	case s.URL = <-urlc:
	case <-s.exited:
		t.Fatalf("server exited before listening: %v\n%s", s.exitErr, s.Log)
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not listen within 20s\n%s", s.Log)
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatalf("admin token: %v", err)
	}
	s.Token = strings.TrimSpace(string(tok))
	return s
}

// Line returns the rest of the first stdout line that starts with prefix.
func (s *Server) Line(t testing.TB, prefix string) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l := <-s.lines:
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-timeout:
			t.Fatalf("the server printed no line starting %q", prefix)
		}
	}
}

// PID is the server's process ID, to read its resource use from /proc.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.exited
}

// Signal sends sig to the server.
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the server to exit, and reports whether it did and its exit
// error.
func (s *Server) Wait(timeout time.Duration) (bool, error) {
	select {
	case <-s.exited:
		return true, s.exitErr
	case <-time.After(timeout):
		return false, nil
	}
}

// Stop asks the server to shut down (SIGINT) and waits up to grace, then kills it. It reports
// whether the server stopped within grace, and its exit error.
func (s *Server) Stop(grace time.Duration) (bool, error) {
	select {
	case <-s.exited:
		return true, s.exitErr
	default:
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
		return true, s.exitErr
	case <-time.After(grace):
		s.cmd.Process.Kill()
		<-s.exited
		return false, s.exitErr
	}
}

// Buffer is a bytes.Buffer safe for the server's writes and the test's reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// RepoRoot returns the module root (the folder with go.mod) above the test's directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
