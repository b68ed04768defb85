package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/store"
)

// syncBuffer collects a process's log lines for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe starts `vigil serve` and returns its base URL once it listens.
func startServe(t *testing.T, cfgPath string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(vigilBin, "serve", "-c", cfgPath, "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &syncBuffer{}
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="vigil serving" listen=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		return cmd, "http://" + a, logs
	case <-time.After(15 * time.Second):
		t.Fatalf("vigil serve did not start:\n%s", logs.String())
	}
	return nil, "", nil
}

// TestServeRunsOnScheduleAndDrainsOnSIGTERM runs checks every second under
// the real binary, then sends SIGTERM while a slow check runs: the run is
// finished and recorded, and vigil exits 0.
func TestServeRunsOnScheduleAndDrainsOnSIGTERM(t *testing.T) {
	var fastCalls atomic.Int32
	var armed atomic.Bool
	slowStarted := make(chan struct{}, 10)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/fast":
			fastCalls.Add(1)
		case armed.Load():
			slowStarted <- struct{}{}
			time.Sleep(2 * time.Second)
		}
		w.Write([]byte("ok"))
	}))
	defer api.Close()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources: {}
checks:
  - {id: fast-api, kind: http, url: "` + api.URL + `/fast", schedule: "@every 1s"}
  - {id: slow-api, kind: http, url: "` + api.URL + `/slow", schedule: "@every 1s", timeout: 10s}
`})
	cmd, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))

	resp, err := http.Get(base + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	for deadline := time.Now().Add(10 * time.Second); fastCalls.Load() < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("fast-api did not run twice in 10s\n%s", logs)
		}
	}
	armed.Store(true)
	select {
	case <-slowStarted:
	case <-time.After(10 * time.Second):
		t.Fatalf("the slow check did not run in 10s\n%s", logs)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("vigil serve exited with %v after SIGTERM\n%s", err, logs)
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("vigil serve did not exit after SIGTERM\n%s", logs)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err == nil {
		t.Error("the server still accepts connections after exit")
	}

	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Results(t.Context(), "slow-api", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 2 || runs[0].Status != checks.Pass || runs[0].Duration < 2*time.Second {
		t.Fatalf("slow-api runs = %+v; want the in-flight run drained and recorded as pass", runs)
	}
	fast, err := st.Results(t.Context(), "fast-api", 0, 100)
	if err != nil || len(fast) < 2 {
		t.Fatalf("fast-api ran %d times (%v); want at least twice on @every 1s", len(fast), err)
	}
}

func TestServeRefusesNonLoopbackWithoutAuth(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
server: {listen: "0.0.0.0:0"}
datasources: {}
checks:
  - {id: api, kind: http, url: "http://127.0.0.1:1/"}
`})
	_, stderr, code := vigil(t, nil, "serve", "-c", filepath.Join(dir, "vigil.yaml"))
	if code != 2 || !strings.Contains(stderr, "auth") {
		t.Fatalf("exit %d, stderr %q; want a refusal naming auth", code, stderr)
	}
}
