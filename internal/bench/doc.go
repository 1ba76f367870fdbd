// Package bench measures the embedded server's hot paths against a bare net/http handler and
// prints figures and ratios (make bench). It asserts nothing about speed: machines differ, so
// performance is reported, and regressions are judged by reading the ratios.
package bench
