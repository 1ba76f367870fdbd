package laptop_test

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun: make run says it is building and how to stop, does not echo ARGS (a webhook
// URL's path is a secret), and the server goes away with make, whether make is killed on its
// own (SIGTERM to make) or with its terminal's process group (Ctrl-C).
func TestMakeRun(t *testing.T) {
	dir := clone(t)
	const secret = "T0SECRET/B0SECRET/XXXXSECRET"
	for _, tc := range []struct {
		name  string
		group bool // signal the whole process group, as a terminal's Ctrl-C does
		sig   syscall.Signal
	}{
		{"SIGTERMToMake", false, syscall.SIGTERM},
		{"CtrlC", true, syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "run",
				"ARGS=--addr 127.0.0.1:0 --data "+data+" --webhook https://hooks.example.com/services/"+secret)
			cmd.Dir, cmd.Env = dir, cloneEnv()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pgid := cmd.Process.Pid
			t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
			var out strings.Builder
			urlc := make(chan string, 1)
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					out.WriteString(sc.Text() + "\n")
					if _, u, ok := strings.Cut(sc.Text(), "listening on "); ok {
						urlc <- u
					}
				}
			}()
			var url string
			select {
			case url = <-urlc:
			case <-done:
				t.Fatalf("make run ended before the server listened:\n%s", out.String())
			case <-time.After(5 * time.Minute):
				t.Fatalf("make run did not start the server within 5 minutes:\n%s", out.String())
			}
			if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("the server at %s does not answer: %v", url, err)
			}
			target := cmd.Process.Pid
			if tc.group {
				target = -pgid
			}
			if err := syscall.Kill(target, tc.sig); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { <-done; exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				t.Fatalf("make still running 15 s after %s", tc.sig)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := http.Get(url + "/healthz")
				if err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the server at %s still answers after make was stopped with %s", url, tc.sig)
				}
				time.Sleep(100 * time.Millisecond)
			}
			got := out.String()
			for _, want := range []string{"Building build/incidents", "Ctrl-C", "shutting down"} {
				if !strings.Contains(got, want) {
					t.Errorf("make run output lacks %q:\n%s", want, got)
				}
			}
			if strings.Contains(got, "SECRET") {
				t.Errorf("make run echoed the webhook secret:\n%s", got)
			}
		})
	}
}

// TestMakeClean: make clean deletes the build output and keeps ./data (the ticket database and
// the admin token); only make clean-data deletes that.
func TestMakeClean(t *testing.T) {
	dir := clone(t)
	for _, p := range []string{"build/clean-test/x", "data/admin-token", "data/incidents.db"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runIn(t, dir, time.Minute, cloneEnv(), "make", "--no-print-directory", "clean")
	if err != nil {
		t.Fatalf("make clean: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "build")); !os.IsNotExist(err) {
		t.Errorf("make clean left build/ (stat: %v)", err)
	}
	for _, p := range []string{"data/admin-token", "data/incidents.db"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("make clean deleted %s: %v", p, err)
		}
	}
	if !strings.Contains(out, "kept ./data") || !strings.Contains(out, "make clean-data") {
		t.Errorf("make clean does not say it kept ./data and how to delete it:\n%s", out)
	}
	out, err = runIn(t, dir, time.Minute, cloneEnv(), "make", "--no-print-directory", "clean-data")
	if err != nil {
		t.Fatalf("make clean-data: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("make clean-data left data/ (stat: %v)", err)
	}
}
