package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The baseline runs as a process of its own, like `incidents serve`, so both pay the same
// costs between processes (the kernel's loopback, scheduling across processes) and their
// memory can be read the same way. It is this program run again with roleEnv set.
const roleEnv = "INCIDENTS_BENCH_ROLE"

// ServeBareIfChild serves the bare baseline and exits when this process was started as one
// by Run; otherwise it returns at once. Call it first thing in main (and in TestMain).
func ServeBareIfChild() {
	if os.Getenv(roleEnv) != "bare" {
		return
	}
	if err := serveBare(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// bareHandler is the floor any HTTP JSON API on this machine sits on: net/http decoding the
// same JSON body and answering 201 with it, and a /healthz.
func bareHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ticket", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&v); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(v)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	return mux
}

func serveBare(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: bareHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	fmt.Fprintf(stdout, "Bare net/http server listening on http://%s\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
