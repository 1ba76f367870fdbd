package bench

import (
	"maps"
	"slices"
	"time"
)

// Dist is a latency distribution (nearest-rank percentiles).
type Dist struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

func distOf(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return Dist{N: len(s), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: s[len(s)-1]}
}

// LoadResult is one load run of POST /ticket against one target, or the median of several.
type LoadResult struct {
	Target string // "bare" or "serve"
	// Clients is the closed loop's concurrency; Rate the open loop's offered tickets a second
	// (0 in the other mode).
	Clients int
	Rate    float64
	// Runs is how many runs this result is the median of; RunThroughputs each one's.
	Runs           int
	RunThroughputs []float64
	Requests       int
	// Throughput is successful answers (201) a second, over the whole run.
	Throughput float64
	// Latency is the time to a successful answer: from sending (closed loop) or from the
	// scheduled send time (open loop).
	Latency Dist
	// Errors counts the other outcomes by HTTP status or transport failure, over all runs.
	Errors map[string]int

	// What follows is measured for incidents serve only.
	Created int
	// Delivered is create → first notification at the webhook sink, from the same start as
	// Latency.
	Delivered Dist
	// DeliveredPerSecond is notifications that arrived while the load ran, a second.
	DeliveredPerSecond float64
	// Drain is how long after the load stopped the last created ticket's notification arrived;
	// when not Drained, Undelivered had not arrived DrainTimeout after the load stopped.
	Drained      bool
	NotDrained   int // runs that did not drain
	Drain        time.Duration
	DrainTimeout time.Duration
	Undelivered  int
	// Duplicates counts tickets whose notification arrived more than once.
	Duplicates int
	// PeakRSS is the process's highest resident memory during the run (bytes); Cores the CPU it
	// kept busy while the load ran.
	PeakRSS int64
	Cores   float64
}

// summarize turns a run's records into a LoadResult.
func summarize(target string, recs []record, elapsed time.Duration) LoadResult {
	r := LoadResult{Target: target, Runs: 1, Requests: len(recs), Errors: map[string]int{}}
	var lat []time.Duration
	for _, rec := range recs {
		if rec.ok {
			lat = append(lat, rec.latency)
		} else {
			r.Errors[rec.status]++
		}
	}
	r.Latency = distOf(lat)
	if elapsed > 0 {
		r.Throughput = float64(len(lat)) / elapsed.Seconds()
	}
	r.RunThroughputs = []float64{r.Throughput}
	return r
}

// median combines runs of the same load: the median of each figure, errors summed, and the
// drain reported as not drained if any run did not.
func median(runs []LoadResult) LoadResult {
	if len(runs) == 1 {
		return runs[0]
	}
	m := runs[0]
	m.Runs = len(runs)
	m.RunThroughputs = nil
	m.Errors = map[string]int{}
	m.Drained = true
	m.NotDrained = 0
	m.Undelivered, m.Duplicates, m.Requests, m.Created = 0, 0, 0, 0
	pick := func(f func(LoadResult) float64) float64 {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = f(r)
		}
		slices.Sort(vs)
		return vs[len(vs)/2]
	}
	pickD := func(f func(LoadResult) time.Duration) time.Duration {
		return time.Duration(pick(func(r LoadResult) float64 { return float64(f(r)) }))
	}
	pickDist := func(f func(LoadResult) Dist) Dist {
		return Dist{
			N:   int(pick(func(r LoadResult) float64 { return float64(f(r).N) })),
			P50: pickD(func(r LoadResult) time.Duration { return f(r).P50 }),
			P90: pickD(func(r LoadResult) time.Duration { return f(r).P90 }),
			P99: pickD(func(r LoadResult) time.Duration { return f(r).P99 }),
			Max: pickD(func(r LoadResult) time.Duration { return f(r).Max }),
		}
	}
	m.Throughput = pick(func(r LoadResult) float64 { return r.Throughput })
	m.Latency = pickDist(func(r LoadResult) Dist { return r.Latency })
	m.Delivered = pickDist(func(r LoadResult) Dist { return r.Delivered })
	m.DeliveredPerSecond = pick(func(r LoadResult) float64 { return r.DeliveredPerSecond })
	m.Drain = pickD(func(r LoadResult) time.Duration { return r.Drain })
	m.PeakRSS = int64(pick(func(r LoadResult) float64 { return float64(r.PeakRSS) }))
	m.Cores = pick(func(r LoadResult) float64 { return r.Cores })
	for _, r := range runs {
		m.RunThroughputs = append(m.RunThroughputs, r.Throughput)
		for k, v := range r.Errors {
			m.Errors[k] += v
		}
		m.Requests += r.Requests
		m.Created += r.Created
		m.Undelivered += r.Undelivered
		m.Duplicates += r.Duplicates
		if !r.Drained {
			m.Drained = false
			m.NotDrained++
		}
	}
	return m
}

// errorKeys lists an error map's keys in order.
func errorKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

// SizeResult is what one store size measured.
type SizeResult struct {
	// Size is the number of tickets asked for; Tickets how many the store held (GET
	// /admin/stats) for the reads, the tickets filed by earlier runs included, and TicketsAfter
	// after the create run.
	Size, Tickets, TicketsAfter int
	// Seed is how long seeding the tickets added for this size took.
	Seed time.Duration
	// Listening and Ready: process start → its "listening" line, and → first 200 from /healthz.
	Listening, Ready time.Duration
	// Execution is the low-load run (10 tickets a second): its Delivered is one execution's
	// cost as a user sees it.
	Execution LoadResult
	// Create is POST /ticket at 8 clients.
	Create LoadResult
	// Stats, List and Get are sequential GET /admin/stats, GET /ticket?limit=25 (admin) and
	// GET /ticket/{id} (public view, random seeded tickets).
	Stats, List, Get Dist
	ReadErrors       map[string]int
	// DBBytes is the database's size on disk (main file and WAL) after the runs.
	DBBytes int64
	PeakRSS int64
}

// PerTicket is the database's size divided among its tickets.
func (s SizeResult) PerTicket() float64 {
	if s.TicketsAfter == 0 {
		return 0
	}
	return float64(s.DBBytes) / float64(s.TicketsAfter)
}
