// Package bench measures Incident Manager as users load it, for make bench. Run drives the
// whole product from outside over HTTP on 127.0.0.1 — `incidents serve` with a webhook sink,
// beside a bare net/http server in a process of its own, closed and open loop, then stores
// seeded with many tickets straight into SQLite — and writes BENCHMARKS.md with its charts.
// The in-process micro-benchmarks of the hot paths (go test -tags bench) sit beside it.
//
// It asserts nothing about speed: machines differ, so performance is reported, with ratios to
// the bare server from the same run, and regressions are judged by reading them. Its smoke
// test runs everything for a few seconds so the harness cannot rot.
package bench
