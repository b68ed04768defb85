package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/store"
)

// flood opens n idle TCP connections to addr, leaving from the local
// addresses in turn, and says what the server did with each within a few
// seconds: "held" (open, no answer: it holds a slot), "429" or "503" (an
// HTTP refusal and close), "closed" (closed or reset without an answer),
// "refused" (no connection at all). The connections are returned open.
func flood(t *testing.T, addr string, n int, locals []string) ([]net.Conn, map[string]int) {
	t.Helper()
	conns := make([]net.Conn, n)
	outcome := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(locals[i%len(locals)])}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			outcome[i] = "refused"
			continue
		}
		conns[i] = c
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(4 * time.Second))
			b := make([]byte, 64)
			k, err := io.ReadAtLeast(c, b, 12)
			var ne net.Error
			switch {
			case k >= 12 && bytes.HasPrefix(b, []byte("HTTP/1.1 ")):
				outcome[i] = string(b[9:12])
			case errors.As(err, &ne) && ne.Timeout() && k == 0:
				outcome[i] = "held"
			default:
				outcome[i] = "closed"
			}
			c.SetReadDeadline(time.Time{})
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for _, o := range outcome {
		counts[o]++
	}
	return conns, counts
}

// openFDs counts the file descriptors process pid has open.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("read the fds of vigil (pid %d): %v", pid, err)
	}
	return len(es)
}

// TestServeSurvivesConnectionFlood is the attack of issue 12 §2: `vigil
// serve` under a file-descriptor limit of 256 (`ulimit -n 256`, here via
// prlimit) receives 300 idle connections from one address, then 300 more
// spread over 30 addresses. Before the fix accept() failed with EMFILE, the
// web server returned and the whole process exited 0.
//
// The rules applied are the operating system's and systemd's: a process
// never needs more descriptors than RLIMIT_NOFILE allows it (getrlimit(2)),
// accept(2)'s EMFILE/ENFILE are temporary (the server backs off and retries,
// as Go's net/http does), and a server that must stay up keeps running (a
// clean exit 0 means "stopped on purpose" to Restart=on-failure).
func TestServeSurvivesConnectionFlood(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("this test runs vigil under prlimit (util-linux): %v", err)
	}
	var mu sync.Mutex
	var arrivals []time.Time
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer api.Close()
	arrivedSince := func(t0 time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range arrivals {
			if !a.Before(t0) {
				n++
			}
		}
		return n
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources: {}
checks:
  - {id: heartbeat, kind: http, url: "` + api.URL + `/ok", schedule: "@every 1s"}
`})
	const nofile = 256
	cmd, base, logs := startServeCmd(t, exec.Command(prlimit, "--nofile="+strconv.Itoa(nofile), vigilBin, "serve", "-c", filepath.Join(dir, "vigil.yaml"), "--listen", "127.0.0.1:0"))
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	alive := func(when string) {
		t.Helper()
		select {
		case err := <-exited:
			t.Fatalf("vigil serve exited (%v) %s\n%s", err, when, logs)
		default:
		}
	}
	addr := strings.TrimPrefix(base, "http://")
	for deadline := time.Now().Add(15 * time.Second); arrivedSince(time.Time{}) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat check did not run twice in 15s\n%s", logs)
		}
	}
	limits := regexp.MustCompile(`msg="vigil serving".* max_connections=(\d+) max_connections_per_ip=(\d+)`).FindStringSubmatch(logs.String())
	maxConns, perIP := -1, -1
	if limits == nil {
		t.Errorf("the start line does not state the connection limits\n%s", logs)
	} else {
		maxConns, _ = strconv.Atoi(limits[1])
		perIP, _ = strconv.Atoi(limits[2])
	}
	if maxConns <= 0 || maxConns > nofile-32 || perIP <= 0 || perIP >= maxConns {
		t.Errorf("limits under RLIMIT_NOFILE %d: max_connections=%d per address %d; want some headroom below the limit and a per-address cap below the total", nofile, maxConns, perIP)
	}

	// One address opens 300 connections: it gets its share, then 429s.
	floodStart := time.Now()
	one, got := flood(t, addr, 300, []string{"127.0.0.1"})
	alive("after 300 connections from one address")
	t.Logf("300 connections from 127.0.0.1: %v (max_connections=%d, per address %d); vigil has %d fds open", got, maxConns, perIP, openFDs(t, pid))
	if got["held"] != perIP || got["429"] != 300-perIP {
		t.Errorf("one address: %v; want %d held and the rest refused with 429", got, perIP)
	}
	if code, body, err := getStatus(fromAddr("127.0.0.2"), base+"/healthz"); err != nil || code != 200 {
		t.Errorf("/healthz from another address during the flood = %d %q %v; want 200", code, body, err)
	}

	time.Sleep(500 * time.Millisecond) // the server closes the /healthz connection (Connection: close) after answering

	// 30 more addresses open 10 each: the server fills up to
	// max_connections, refuses the rest with 503, and stays within its fds.
	var locals []string
	for i := range 30 {
		locals = append(locals, fmt.Sprintf("127.0.1.%d", i+1))
	}
	many, got := flood(t, addr, 300, locals)
	alive("after 300 more connections from 30 addresses")
	fds := openFDs(t, pid)
	t.Logf("300 connections from 30 addresses: %v; vigil has %d fds open", got, fds)
	if held := got["held"] + perIP; held != maxConns || got["503"] != 300-(maxConns-perIP) {
		t.Errorf("many addresses: %v (+%d held from 127.0.0.1); want max_connections=%d held and the rest refused with 503", got, perIP, maxConns)
	}
	if fds >= nofile {
		t.Errorf("vigil has %d fds open under RLIMIT_NOFILE %d", fds, nofile)
	}

	// The scheduler kept running checks during the flood.
	for deadline := time.Now().Add(10 * time.Second); arrivedSince(floodStart) < 3; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat check stopped running during the flood (%d runs since it began)\n%s", arrivedSince(floodStart), logs)
		}
	}

	// Idle clients cannot hold their slots forever: the server closes
	// every held connection on its own (read timeout), then answers again.
	var wg sync.WaitGroup
	var mu2 sync.Mutex
	var stillOpen int
	for _, c := range append(one, many...) {
		if c == nil {
			continue
		}
		wg.Go(func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(90 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					mu2.Lock()
					stillOpen++
					mu2.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if stillOpen > 0 {
		t.Errorf("%d idle connections were still open 90s after the flood: idle clients hold slots forever", stillOpen)
	}
	alive("after the flood")
	if code, body, err := getStatus(fromAddr("127.0.0.1"), base+"/healthz"); err != nil || code != 200 {
		t.Errorf("/healthz after the flood = %d %q %v; want 200", code, body, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("vigil serve exited with %v after SIGTERM; want 0\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil serve did not exit after SIGTERM\n%s", logs)
	}
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Results(context.Background(), "heartbeat", 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	var during int
	for _, r := range runs {
		if r.StartedAt.After(floodStart) {
			during++
		}
	}
	if during < 3 {
		t.Errorf("%d heartbeat results recorded since the flood began; want the results to keep arriving in the store", during)
	}
}
