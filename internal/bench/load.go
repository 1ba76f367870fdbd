package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
)

// ticketBody is what the load generator files: the README's example ticket.
var ticketBody = []byte(`{"title":"VPN down","description":"Cannot connect since 9:00","severity":"high","category":"network","reporter":{"name":"Ada Lovelace","email":"ada@example.com"}}`)

// requestTimeout bounds one request of the load generator: a request slower than this counts
// as a "timeout" error rather than holding a client forever.
const requestTimeout = 10 * time.Second

// newClient returns a keep-alive HTTP client for up to conns connections to one host.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// outcome is what one request came to.
type outcome struct {
	// status is the HTTP status, or the kind of transport failure ("timeout", "refused", …).
	status string
	ok     bool
	// id is the ticket's ID from a 201's body.
	id string
}

// requester sends one request.
type requester func(ctx context.Context, c *http.Client) outcome

// record is one request as the generator saw it.
type record struct {
	// sent is when the request was sent (closed loop) or was meant to be sent (open loop: the
	// schedule's time, so a server that falls behind is charged for the wait it caused).
	sent    time.Time
	latency time.Duration
	outcome
}

// createTicket files the README's ticket at base, with a fresh Idempotency-Key as the web app
// sends.
func createTicket(base string) requester {
	url := base + "/ticket"
	return func(ctx context.Context, c *http.Client) outcome {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(ticketBody))
		if err != nil {
			return outcome{status: "error"}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", uuid.NewString())
		return send(c, req, http.StatusCreated)
	}
}

// get sends GET base+path() with the bearer token (when not empty), expecting 200.
func get(base, token string, path func() string) requester {
	return func(ctx context.Context, c *http.Client) outcome {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path(), nil)
		if err != nil {
			return outcome{status: "error"}
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(c, req, http.StatusOK)
	}
}

func send(c *http.Client, req *http.Request, want int) outcome {
	resp, err := c.Do(req)
	if err != nil {
		return outcome{status: failureKind(err)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return outcome{status: failureKind(err)}
	}
	o := outcome{status: strconv.Itoa(resp.StatusCode), ok: resp.StatusCode == want}
	if o.ok && resp.StatusCode == http.StatusCreated {
		var t struct {
			ID string `json:"id"`
		}
		json.Unmarshal(body, &t)
		o.id = t.ID
	}
	return o
}

// failureKind names a transport failure for the error counts.
func failureKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no port"
	}
	return "error"
}

// closedLoop runs clients goroutines that each send a request, wait for its answer and send
// the next, until d has passed. It returns every request and the time from the first send to
// the last answer.
func closedLoop(ctx context.Context, c *http.Client, clients int, d time.Duration, do requester) ([]record, time.Duration) {
	start := time.Now()
	deadline := start.Add(d)
	per := make([][]record, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				o := do(ctx, c)
				per[i] = append(per[i], record{sent: t0, latency: time.Since(t0), outcome: o})
			}
		})
	}
	wg.Wait()
	return slices.Concat(per...), time.Since(start)
}

// closedLoopCount is closedLoop for a number of requests instead of a duration (warm-ups and
// the sequential read measurements), stopping early when d has passed.
func closedLoopCount(ctx context.Context, c *http.Client, clients, n int, d time.Duration, do requester) []record {
	deadline := time.Now().Add(d)
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	per := make([][]record, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for range jobs {
				t0 := time.Now()
				if ctx.Err() != nil || !t0.Before(deadline) {
					return
				}
				o := do(ctx, c)
				per[i] = append(per[i], record{sent: t0, latency: time.Since(t0), outcome: o})
			}
		})
	}
	wg.Wait()
	return slices.Concat(per...)
}

// openLoop sends rate requests a second for d on a fixed schedule, whatever the answers,
// through up to workers requests in flight. Each request's latency runs from the time the
// schedule meant to send it, so a server that makes requests queue is charged for the queueing
// (no coordinated omission). Requests still waiting for a worker grace after the schedule ends
// are not sent and count as "not sent". It returns every request and the time from the start
// of the schedule to the last answer.
func openLoop(ctx context.Context, c *http.Client, rate float64, d time.Duration, workers int, grace time.Duration, do requester) ([]record, time.Duration) {
	n := int(rate * d.Seconds())
	start := time.Now()
	jobs := make(chan time.Time, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(jobs)
		for i := range n {
			at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if w := time.Until(at); w > 0 {
				select {
				case <-time.After(w):
				case <-ctx.Done():
					return
				}
			}
			jobs <- at
		}
		// The schedule is over: whatever is still queued or in flight after grace is given up.
		time.AfterFunc(grace, cancel)
	}()
	per := make([][]record, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for at := range jobs {
				if ctx.Err() != nil {
					per[i] = append(per[i], record{sent: at, outcome: outcome{status: "not sent"}})
					continue
				}
				o := do(ctx, c)
				per[i] = append(per[i], record{sent: at, latency: time.Since(at), outcome: o})
			}
		})
	}
	wg.Wait()
	return slices.Concat(per...), time.Since(start)
}
