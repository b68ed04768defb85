// Package datadogtest is a DogStatsD listener for tests: a real UDP socket
// on 127.0.0.1 that collects the metric lines a client sends.
package datadogtest

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Listener collects DogStatsD lines sent to Addr.
type Listener struct {
	conn  *net.UDPConn
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

// Listen starts a listener on 127.0.0.1:0, closed when the test ends.
func Listen(tb testing.TB) *Listener {
	tb.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatalf("datadogtest: listen: %v", err)
	}
	l := &Listener{conn: conn, done: make(chan struct{})}
	go l.read()
	tb.Cleanup(func() {
		conn.Close()
		<-l.done
	})
	return l
}

// Addr is the listener's "127.0.0.1:port".
func (l *Listener) Addr() string { return l.conn.LocalAddr().String() }

func (l *Listener) read() {
	defer close(l.done)
	buf := make([]byte, 65536)
	for {
		n, err := l.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			continue
		}
		var got []string
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			if line != "" {
				got = append(got, line)
			}
		}
		l.mu.Lock()
		l.lines = append(l.lines, got...)
		l.mu.Unlock()
	}
}

// Take waits until no line has arrived for quiet (at most 5s in all), then
// returns the lines received since the last Take, sorted, and forgets them.
func (l *Listener) Take(quiet time.Duration) []string {
	deadline := time.Now().Add(5 * time.Second)
	last := -1
	for time.Now().Before(deadline) {
		l.mu.Lock()
		n := len(l.lines)
		l.mu.Unlock()
		if n == last {
			break
		}
		last = n
		time.Sleep(quiet)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	slices.Sort(out)
	return out
}
