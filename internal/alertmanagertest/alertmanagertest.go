// Package alertmanagertest runs a real Prometheus Alertmanager for tests, built from the Go
// module proxy by test/tools/alertmanager.sh into build/alertmanager-<version>/ (once, then
// cached; make test builds it first). Tests that need it fail with the build's output when it
// cannot be had; they never skip.
package alertmanagertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Alertmanager the tests run.
const Version = "v0.35.0"

var build sync.Mutex

func repoRoot(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		p := filepath.Dir(dir)
		if p == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = p
	}
}

// Binary returns the Alertmanager binary, building it when missing (bounded to 15 minutes).
func Binary(t testing.TB) string {
	t.Helper()
	root := repoRoot(t)
	bin := filepath.Join(root, "build", "alertmanager-"+Version, "alertmanager")
	build.Lock()
	defer build.Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("bash", filepath.Join(root, "test", "tools", "alertmanager.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TIMEOUT=900")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Alertmanager %s (test/tools/alertmanager.sh): %v\n%s", Version, err, out)
	}
	return bin
}

// Alertmanager is one running instance.
type Alertmanager struct{ URL string }

// Start runs Alertmanager with config (YAML) on 127.0.0.1 until the test ends.
func Start(t testing.TB, config string) *Alertmanager {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file", cfg, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr, "--cluster.listen-address=", "--log.level", "debug")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", out.String())
		}
	})
	am := &Alertmanager{URL: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(am.URL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return am
			}
		}
		select {
		case <-exited:
			t.Fatalf("alertmanager exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready in 30 s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Alert is one alert as posted to /api/v2/alerts.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

// Post sends alerts as Prometheus would.
func (a *Alertmanager) Post(t testing.TB, alerts ...Alert) {
	t.Helper()
	b, _ := json.Marshal(alerts)
	resp, err := http.Post(a.URL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatal(fmt.Errorf("POST /api/v2/alerts = %d %s", resp.StatusCode, body))
	}
}
