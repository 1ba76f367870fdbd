package api

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ThrottleConfig says how fast tickets may be filed. A rate of 0 switches that limit off.
type ThrottleConfig struct {
	// ClientRate and ClientBurst bound one client address: on average ClientRate tickets a
	// second, ClientBurst at once.
	ClientRate  float64
	ClientBurst int
	// GlobalRate and GlobalBurst bound everyone together: the ceiling that protects the
	// store and the workflow whatever the number of addresses.
	GlobalRate  float64
	GlobalBurst int
	// MaxClients is how many addresses are tracked at once (0: DefaultMaxClients). Beyond it,
	// idle addresses are forgotten first; if none is idle, new addresses share one bucket.
	MaxClients int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultMaxClients bounds the throttle's memory (about 200 bytes an address).
const DefaultMaxClients = 10_000

// Throttle limits POST /ticket per client address and in total. It is charged only for
// requests that passed validation, so a flood of invalid bodies costs its sender nothing but
// a 400 and leaves the budget to real reporters.
type Throttle struct {
	c         ThrottleConfig
	global    *rate.Limiter
	mu        sync.Mutex
	clients   map[string]*rate.Limiter
	lastSweep time.Time
}

// overflowClient is the bucket shared by addresses that arrive while every slot is busy.
const overflowClient = "\x00overflow"

// NewThrottle returns the throttle for c, or nil when both rates are 0.
func NewThrottle(c ThrottleConfig) *Throttle {
	if c.ClientRate <= 0 && c.GlobalRate <= 0 {
		return nil
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	t := &Throttle{c: c, clients: map[string]*rate.Limiter{}}
	if c.GlobalRate > 0 {
		t.global = rate.NewLimiter(rate.Limit(c.GlobalRate), max(c.GlobalBurst, 1))
	}
	return t
}

// Allow charges one ticket to client and to the whole. When it refuses, retryAfter says how
// long until the refused limit has a token again, and perClient which limit it was.
func (t *Throttle) Allow(client string) (ok bool, perClient bool, retryAfter time.Duration) {
	now := t.c.Now()
	var mine *rate.Reservation
	if t.c.ClientRate > 0 {
		mine = t.bucket(client, now).ReserveN(now, 1)
		if d := mine.DelayFrom(now); d > 0 {
			mine.CancelAt(now)
			return false, true, d
		}
	}
	if t.global != nil {
		all := t.global.ReserveN(now, 1)
		if d := all.DelayFrom(now); d > 0 {
			all.CancelAt(now)
			if mine != nil {
				mine.CancelAt(now) // the client did not get a ticket filed: give its token back
			}
			return false, false, d
		}
	}
	return true, false, 0
}

// bucket returns client's limiter, making room for a new one by forgetting addresses whose
// bucket has filled up again (they are as good as new).
func (t *Throttle) bucket(client string, now time.Time) *rate.Limiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.clients[client]; ok {
		return l
	}
	if len(t.clients) >= t.c.MaxClients {
		// At most one sweep a second, so a flood from ever new addresses cannot make every
		// request walk the whole map.
		if now.Sub(t.lastSweep) >= time.Second {
			t.lastSweep = now
			for k, l := range t.clients {
				if l.TokensAt(now) >= float64(l.Burst()) {
					delete(t.clients, k)
				}
			}
		}
		if len(t.clients) >= t.c.MaxClients {
			client = overflowClient
			if l, ok := t.clients[client]; ok {
				return l
			}
		}
	}
	l := rate.NewLimiter(rate.Limit(t.c.ClientRate), max(t.c.ClientBurst, 1))
	t.clients[client] = l
	return l
}

// retryAfterSeconds is d as a Retry-After value: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// ClientAddr is the default client identity for the throttle: the connection's IP address,
// with IPv6 addresses reduced to their /64, since one subscriber usually holds a whole /64.
// Forwarded-For headers are not trusted: the embedded server faces its clients directly.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
