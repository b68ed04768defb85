package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/testdb"
)

// readiness is GET /readyz of the real binary.
type readiness struct {
	code      int
	Store     string `json:"store"`
	Scheduler string `json:"scheduler"`
	Leader    bool   `json:"leader"`
}

func getReadyz(t *testing.T, base string) readiness {
	t.Helper()
	var r readiness
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET /readyz (%d): %v", resp.StatusCode, err)
	}
	r.code = resp.StatusCode
	return r
}

// TestServeStoreDownIsAliveNotReady takes the PostgreSQL store away from
// a running `vigil serve` (its role may no longer log in and its
// connections are terminated), then gives it back. Kubernetes' probe
// semantics apply: liveness (/healthz) stays 200, since a restart would not
// bring the store back; readiness (/readyz) is 503 and says what is wrong,
// the store unreachable and the scheduler's lease lost since when. Before,
// /healthz failed with the store and /readyz said "scheduler: running".
func TestServeStoreDownIsAliveNotReady(t *testing.T) {
	const ttl = 3 * time.Second
	pg := testdb.Postgres(t)
	u, err := url.Parse(pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	role := "vigil_" + schema
	pg.Exec(t, "CREATE ROLE "+role+" LOGIN", "GRANT ALL ON SCHEMA "+schema+" TO "+role)
	t.Cleanup(func() { pg.Exec(t, "DROP OWNED BY "+role, "DROP ROLE "+role) })
	u.User = url.User(role)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": fmt.Sprintf(`
store: {driver: postgres, dsn: %q}
scheduler: {lease_ttl: %s}
datasources: {}
checks:
  - {id: idle, kind: http, url: "http://127.0.0.1:1/", schedule: "@every 1h"}
`, u.String(), ttl)})
	cmd, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))
	poll := func(what string, ok func(r readiness) bool) readiness {
		t.Helper()
		var r readiness
		for deadline := time.Now().Add(4 * ttl); ; time.Sleep(100 * time.Millisecond) {
			if r = getReadyz(t, base); ok(r) {
				return r
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz = %+v after %s; want %s\n%s", r, 4*ttl, what, logs)
			}
		}
	}
	poll("200, running, leader", func(r readiness) bool {
		return r.code == 200 && r.Store == "ok" && r.Scheduler == "running" && r.Leader
	})

	down := time.Now()
	pg.Exec(t, "ALTER ROLE "+role+" NOLOGIN",
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"+role+"'")
	r := poll(`503, store unreachable, scheduler "lease lost since ..."`, func(r readiness) bool {
		return r.code == 503 && r.Store == "unreachable" && strings.HasPrefix(r.Scheduler, "lease lost since ")
	})
	since, err := time.Parse(time.RFC3339, strings.TrimPrefix(r.Scheduler, "lease lost since "))
	if err != nil || since.Before(down.Add(-time.Second)) || since.After(time.Now()) {
		t.Errorf("scheduler = %q; want the time the store went away (%s)", r.Scheduler, down.UTC().Format(time.RFC3339))
	}
	code, body, err := getStatus(http.DefaultClient, base+"/healthz")
	if err != nil || code != 200 || body != `{"status":"ok"}` {
		t.Errorf("/healthz with the store down = %d %q %v; want 200: the process is alive", code, body, err)
	}

	pg.Exec(t, "ALTER ROLE "+role+" LOGIN")
	poll("200 again once the store is back", func(r readiness) bool {
		return r.code == 200 && r.Store == "ok" && r.Scheduler == "running" && r.Leader
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vigil serve exited with %v after SIGTERM; want 0\n%s", err, logs)
	}
}

// fromAddr returns an HTTP client whose connections leave from local
// address ip (any 127.0.0.0/8 address is on the loopback interface on
// Linux), without keep-alive.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// getStatus is the status of GET url from client, or the error.
func getStatus(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestGuardedPanicIsAFailure: a background loop (lease, engine tick,
// outbox, retention) that panics becomes a component failure, so serve
// drains and exits 1 (systemd restarts it) instead of crashing without
// draining; one that returns reports nothing.
func TestGuardedPanicIsAFailure(t *testing.T) {
	fatal := make(chan error, 2)
	guarded("outbox delivery", fatal, func() { panic("boom") })()
	guarded("retention", fatal, func() {})()
	select {
	case err := <-fatal:
		if !errors.Is(err, errComponentFailed) || !strings.Contains(err.Error(), "outbox delivery panicked: boom") {
			t.Errorf("failure = %v; want errComponentFailed naming the loop and the panic", err)
		}
	default:
		t.Fatal("a panicking loop reported no failure")
	}
	if len(fatal) != 0 {
		t.Errorf("a loop that returned reported %v", <-fatal)
	}
}
