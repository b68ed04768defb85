// Package benchserve holds BenchmarkServe, which measures the real `vigil
// serve` binary (CPU, RSS, checks per second, time to first run) under
// thousands of checks; run it with `make bench-serve`. It has no code of its
// own.
package benchserve
