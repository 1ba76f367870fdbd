// Package mailpittest runs Mailpit (github.com/axllent/mailpit, a Go tool dependency of this
// module) for tests: an SMTP server on 127.0.0.1 with an HTTP API to read what arrived,
// optionally with STARTTLS or implicit TLS on a certificate the test makes, and with
// authentication. It fails the test, never skips it, when Mailpit cannot start.
package mailpittest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Options choose the SMTP side's security.
type Options struct {
	// TLS: "" (plain), "starttls" (offered and required) or "tls" (implicit).
	TLS string
	// Auth: accept any username and password (and require one).
	Auth bool
}

// Mailpit is one running server.
type Mailpit struct {
	Host    string
	Port    int
	API     string
	RootCAs *x509.CertPool
}

// Message is a message as Mailpit's list shows it.
type Message struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	From    struct {
		Address string `json:"Address"`
	} `json:"From"`
	To []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// Full is one message with its bodies.
type Full struct {
	Subject   string `json:"Subject"`
	MessageID string `json:"MessageID"`
	Text      string `json:"Text"`
	HTML      string `json:"HTML"`
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// repoRoot is the directory of go.mod, where `go tool mailpit` resolves the pinned version.
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

// Start runs Mailpit until the test ends.
func Start(t testing.TB, o Options) *Mailpit {
	t.Helper()
	dir := t.TempDir()
	smtpPort, httpPort := freePort(t), freePort(t)
	args := []string{"tool", "mailpit",
		"--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort), "--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns", "--disable-version-check", "--quiet",
		"--smtp-strict-rfc-headers",
	}
	m := &Mailpit{Host: "127.0.0.1", Port: smtpPort, API: fmt.Sprintf("http://127.0.0.1:%d", httpPort)}
	if o.TLS != "" {
		cert, key, pool := selfSigned(t, dir)
		m.RootCAs = pool
		args = append(args, "--smtp-tls-cert", cert, "--smtp-tls-key", key)
		if o.TLS == "tls" {
			args = append(args, "--smtp-require-tls")
		} else {
			args = append(args, "--smtp-require-starttls")
		}
	}
	if o.Auth {
		args = append(args, "--smtp-auth-accept-any")
		if o.TLS == "" {
			args = append(args, "--smtp-auth-allow-insecure")
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit (go tool mailpit): %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	// The first run builds Mailpit (cached afterwards).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if resp, err := http.Get(m.API + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("mailpit exited before it was ready:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit not ready after 3 minutes:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return m
}

func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

// TLSConfig trusts the test's certificate.
func (m *Mailpit) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: m.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func (m *Mailpit) get(t testing.TB, path string, v any) []byte {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("mailpit GET %s = %d %s", path, resp.StatusCode, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("mailpit GET %s: %v", path, err)
		}
	}
	return b
}

// Messages lists what arrived, newest first.
func (m *Mailpit) Messages(t testing.TB) []Message {
	var out struct {
		Messages []Message `json:"messages"`
	}
	m.get(t, "/api/v1/messages", &out)
	return out.Messages
}

// Wait returns the messages once at least n arrived (within 10 s).
func (m *Mailpit) Wait(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := m.Messages(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages in Mailpit after 10 s, want %d", len(got), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Message returns one message with its text and HTML.
func (m *Mailpit) Message(t testing.TB, id string) Full {
	var f Full
	m.get(t, "/api/v1/message/"+id, &f)
	return f
}

// Headers returns one message's headers as sent.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	h := map[string][]string{}
	m.get(t, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// Raw returns one message's source.
func (m *Mailpit) Raw(t testing.TB, id string) string {
	return string(m.get(t, "/api/v1/message/"+id+"/raw", nil))
}

// Addr is the SMTP address, host:port.
func (m *Mailpit) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }
