package main

import (
	"container/list"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/incidentmanager/incidents/api"
)

// What one client can make the embedded server hold. A request's headers must arrive whole
// within ReadHeaderTimeout and fit MaxHeaderBytes (beyond it: 431), so an unfinished 1 MiB
// header costs the server about 20 KiB for a moment instead of a megabyte for as long as
// the client likes; a connection with nothing to say is closed after IdleTimeout.
const (
	MaxHeaderBytes    = 16 << 10
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	IdleTimeout       = 60 * time.Second
)

// serverLimits are the serve flags that bound load.
type serverLimits struct {
	maxConns    int
	maxInFlight int
	clientRate  float64
	clientBurst int
}

func (l *serverLimits) register(fs *flag.FlagSet) {
	fs.IntVar(&l.maxConns, "max-connections", 4096, "connections open at once, at most; beyond it the one idle or unfinished longest is closed (0: no limit)")
	fs.IntVar(&l.maxInFlight, "max-in-flight", 256, "requests handled at once, at most; more are answered 503 with Retry-After (0: no limit)")
	fs.Float64Var(&l.clientRate, "create-client-rate", 1, "tickets one client address may file per second on average (0: no per-client limit)")
	fs.IntVar(&l.clientBurst, "create-client-burst", 20, "tickets one client address may file at once, above --create-client-rate")
}

// createThrottle is the POST /ticket throttle: per client address, under a global ceiling
// of globalRate (burst globalBurst); nil when both rates are 0.
func (l serverLimits) createThrottle(globalRate float64, globalBurst int) *api.Throttle {
	return api.NewThrottle(api.ThrottleConfig{
		ClientRate: l.clientRate, ClientBurst: l.clientBurst,
		GlobalRate: globalRate, GlobalBurst: globalBurst,
	})
}

// limitedServer is an http.Server whose Serve caps the connections it holds open.
type limitedServer struct {
	*http.Server
	conns *connLimit
}

// newHTTPServer returns the embedded server for h with every limit applied: header size and
// timeouts, idle timeout, requests in flight (503 beyond) and, in Serve, connections.
func newHTTPServer(h http.Handler, log *slog.Logger, l serverLimits) *limitedServer {
	s := &limitedServer{
		Server: &http.Server{
			Handler:           api.LimitInFlight(h, l.maxInFlight, log),
			MaxHeaderBytes:    MaxHeaderBytes,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	if l.maxConns > 0 {
		s.conns = newConnLimit(l.maxConns, log)
		s.ConnState = s.conns.track
	}
	return s
}

// Serve accepts on ln, at most maxConns connections at a time.
func (s *limitedServer) Serve(ln net.Listener) error {
	if s.conns != nil {
		ln = s.conns.listener(ln)
	}
	return s.Server.Serve(ln)
}

// connLimit holds at most max connections open: the one bound on memory and file
// descriptors that holds whatever clients send. When all are taken, a new connection does not
// wait behind them (as with netutil.LimitListener, where a flood of unfinished requests keeps
// everyone else in the kernel's accept queue): the connection that has waited longest without
// a request in progress (headers still unfinished, or idle between requests) is closed to make
// room, once it has waited at least minWait (at once when its header has already outgrown
// MaxHeaderBytes). A client that sends its request at once is
// served whatever else is connected; only when every connection has a request in progress or
// has just arrived does accepting wait.
type connLimit struct {
	max   int
	log   *slog.Logger
	slots chan struct{}

	mu      sync.Mutex
	waiting list.List // *limitedConn without a request in progress, oldest first
	evicted int64
	lastLog time.Time
}

func newConnLimit(max int, log *slog.Logger) *connLimit {
	return &connLimit{max: max, log: log, slots: make(chan struct{}, max)}
}

// limitedConn is one accepted connection holding a slot until it closes.
type limitedConn struct {
	net.Conn
	limit    *connLimit
	elem     *list.Element // in limit.waiting while evictable
	since    time.Time     // when it last started waiting for a request
	mark     int64         // bytes read by then
	closed   bool          // under limit.mu
	released sync.Once
	read     atomic.Int64
}

func (c *limitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// doomed reports a connection whose unfinished header has outgrown MaxHeaderBytes: the server
// answers it 431 and hangs up, and need not keep it open while it does.
func (c *limitedConn) doomed() bool { return c.read.Load()-c.mark > MaxHeaderBytes }

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.released.Do(func() {
		c.limit.mu.Lock()
		c.closed = true
		if c.elem != nil {
			c.limit.waiting.Remove(c.elem)
			c.elem = nil
		}
		c.limit.mu.Unlock()
		<-c.limit.slots
	})
	return err
}

// track is the server's ConnState hook: new and idle connections may be evicted, ones with a
// request in progress may not.
func (l *connLimit) track(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.elem != nil {
		l.waiting.Remove(c.elem)
		c.elem = nil
	}
	if !c.closed && (state == http.StateNew || state == http.StateIdle) {
		c.since, c.mark = time.Now(), c.read.Load()
		c.elem = l.waiting.PushBack(c)
	}
}

// minWait is how long a connection may wait for its request before it can be evicted:
// enough for any client that sends its request at once to have it read, even on a machine
// busy with a flood.
const minWait = time.Second

// evictOldest closes a connection without a request in progress, reporting whether there
// was one to close: one whose header has outgrown MaxHeaderBytes, else the one that has waited
// longest, if that is at least minWait.
func (l *connLimit) evictOldest() bool {
	l.mu.Lock()
	var e *list.Element
	for x := l.waiting.Front(); x != nil; x = x.Next() {
		c := x.Value.(*limitedConn)
		if c.doomed() || x == l.waiting.Front() && time.Since(c.since) >= minWait {
			e = x
			break
		}
	}
	if e == nil {
		l.mu.Unlock()
		return false
	}
	victim := e.Value.(*limitedConn)
	l.waiting.Remove(e)
	victim.elem = nil
	l.evicted++
	logNow := time.Since(l.lastLog) > 10*time.Second
	if logNow {
		l.lastLog = time.Now()
	}
	evicted := l.evicted
	l.mu.Unlock()
	if logNow {
		l.log.Warn("connection limit reached; closing the connections that wait longest without a request", "limit", l.max, "closedSoFar", evicted)
	}
	victim.Close()
	return true
}

func (l *connLimit) listener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, limit: l, done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	limit     *connLimit
	done      chan struct{}
	closeOnce sync.Once
}

// acquire takes a slot, evicting for it when all are taken, or waiting when no connection
// can be evicted; false once the listener is closed.
func (ln *limitListener) acquire() bool {
	for {
		select {
		case ln.limit.slots <- struct{}{}:
			return true
		case <-ln.done:
			return false
		default:
		}
		if !ln.limit.evictOldest() {
			select {
			case ln.limit.slots <- struct{}{}:
				return true
			case <-ln.done:
				return false
			case <-time.After(10 * time.Millisecond): // a connection may have gone idle meanwhile
			}
		}
	}
}

// Accept takes the next connection from the kernel first and then a slot for it, so room is
// only ever made for a connection that is really there.
func (ln *limitListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if !ln.acquire() {
		c.Close()
		return nil, net.ErrClosed
	}
	return &limitedConn{Conn: c, limit: ln.limit}, nil
}

func (ln *limitListener) Close() error {
	err := ln.Listener.Close()
	ln.closeOnce.Do(func() { close(ln.done) })
	return err
}
