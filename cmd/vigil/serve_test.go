package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.WriteString(string(p))
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe starts `vigil serve` and returns its base URL once it listens.
func startServe(t *testing.T, cfgPath string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	return startServeCmd(t, exec.Command(vigilBin, "serve", "-c", cfgPath, "--listen", "127.0.0.1:0"))
}

// startServeCmd starts cmd, a `vigil serve` command line (possibly behind
// a wrapper such as prlimit), and returns its base URL once it listens.
func startServeCmd(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
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

// apiCall sends a JSON API request to the real binary with a bearer token
// and decodes the JSON answer into out (when not nil), failing on any
// status but want.
func apiCall(t *testing.T, method, url, token, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, b, err)
		}
	}
}

// TestServeAPIIncidentLifecycle drives the JSON API of the real binary as
// an on-call tool would: run a failing check now, see its incident open,
// ack it, silence the check, then run it again once fixed and see the
// incident resolve. Every action is in the audit log.
func TestServeAPIIncidentLifecycle(t *testing.T) {
	var healthy atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer api.Close()
	const operator, viewer = "e2e-operator-token-0123456789abcdef", "e2e-viewer-token-0123456789abcdef"
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"scriptlog.key": testScriptlogKey, "vigil.yaml": `
datasources: {}
scriptlog: {key_file: scriptlog.key}
auth:
  tokens:
    - {name: oncall, token_sha256: ` + sum(operator) + `, role: operator}
    - {name: support, token_sha256: ` + sum(viewer) + `, role: viewer}
checks:
  - {id: web-api, kind: http, url: "` + api.URL + `/health", schedule: "@every 1h", owner: web-team, tags: [team:web]}
`})
	_, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))

	var ready map[string]any
	apiCall(t, http.MethodGet, base+"/readyz", viewer, "", 200, &ready)
	if ready["store"] != "ok" || ready["scheduler"] != "running" {
		t.Errorf("/readyz = %v", ready)
	}
	apiCall(t, http.MethodPost, base+"/api/v1/checks/web-api/run", viewer, "", 403, nil)
	apiCall(t, http.MethodPost, base+"/api/v1/checks/web-api/run", operator, "", 202, nil)

	type incident struct {
		ID      int64  `json:"id"`
		Check   string `json:"check"`
		Open    bool   `json:"open"`
		AckedBy string `json:"acked_by"`
		AckNote string `json:"ack_note"`
	}
	var open []incident
	for deadline := time.Now().Add(10 * time.Second); len(open) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no incident opened 10s after run-now\n%s", logs)
		}
		apiCall(t, http.MethodGet, base+"/api/v1/incidents?open=true", viewer, "", 200, &open)
	}
	if open[0].Check != "web-api" || !open[0].Open {
		t.Fatalf("open incidents = %+v", open)
	}
	var acked incident
	apiCall(t, http.MethodPost, base+"/api/v1/incidents/"+strconv.FormatInt(open[0].ID, 10)+"/ack", operator, `{"note": "looking"}`, 200, &acked)
	if acked.AckedBy != "token:oncall" || acked.AckNote != "looking" {
		t.Errorf("ack = %+v", acked)
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	apiCall(t, http.MethodPost, base+"/api/v1/silences", operator, `{"matcher": "team:web", "until": "`+until+`"}`, 400, nil)
	var silence struct {
		ID     int64  `json:"id"`
		Author string `json:"author"`
		Active bool   `json:"active"`
	}
	apiCall(t, http.MethodPost, base+"/api/v1/silences", operator, `{"matcher": "team:web", "until": "`+until+`", "reason": "upstream outage"}`, 201, &silence)
	if silence.Author != "token:oncall" || !silence.Active {
		t.Errorf("silence = %+v", silence)
	}

	type check struct {
		ID            string    `json:"id"`
		Status        string    `json:"status"`
		Incident      *incident `json:"incident"`
		SilencedUntil *string   `json:"silenced_until"`
	}
	var list []check
	apiCall(t, http.MethodGet, base+"/api/v1/checks", viewer, "", 200, &list)
	if len(list) != 1 || list[0].Status != "fail" || list[0].Incident == nil || list[0].Incident.AckedBy != "token:oncall" || list[0].SilencedUntil == nil {
		t.Fatalf("checks = %+v", list)
	}

	healthy.Store(true)
	apiCall(t, http.MethodPost, base+"/api/v1/checks/web-api/run", operator, "", 202, nil)
	for deadline := time.Now().Add(10 * time.Second); list[0].Status != "pass"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("web-api did not pass 10s after the second run-now: %+v\n%s", list, logs)
		}
		apiCall(t, http.MethodGet, base+"/api/v1/checks", viewer, "", 200, &list)
	}
	if list[0].Incident != nil {
		t.Errorf("incident still open after a pass: %+v", list[0].Incident)
	}
	var results []map[string]any
	apiCall(t, http.MethodGet, base+"/api/v1/checks/web-api/results", viewer, "", 200, &results)
	if len(results) != 2 || results[0]["status"] != "pass" || results[1]["status"] != "fail" {
		t.Errorf("results = %v", results)
	}

	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	audit, err := st.AuditLog(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(audit) - 1; i >= 0; i-- {
		if audit[i].Actor == "token:oncall" {
			actions = append(actions, audit[i].Action)
		}
	}
	if got := strings.Join(actions, ","); got != "run,ack,silence,run" {
		t.Errorf("audited actions = %s, want run,ack,silence,run", got)
	}
}
