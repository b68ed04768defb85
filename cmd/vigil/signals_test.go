package main

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/notify/datadog/datadogtest"
	"github.com/vigilhq/vigil/internal/testdb"
)

// recorder is an httptest handler that keeps every request body.
type recorder struct {
	mu     sync.Mutex
	bodies []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body := req.Body
	if req.Header.Get("Content-Encoding") == "gzip" { // Sentry envelopes, decompressed as Sentry does
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.mu.Unlock()
	w.Write([]byte("ok"))
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.bodies, "\n")
}

// TestServeSignalsEndToEnd: one failing check under the real binary sends
// DogStatsD lines, a Sentry event and check-ins, and one Slack message on
// open; fixing the data sends one resolve message.
func TestServeSignalsEndToEnd(t *testing.T) {
	db := testdb.SQLite(t)
	db.Exec(t, "CREATE TABLE premiums (policy_id TEXT, premium INTEGER)", "INSERT INTO premiums VALUES ('P-1', -5)")
	dd := datadogtest.Listen(t)
	sentrySrv := &recorder{}
	slackSrv := &recorder{}
	sentryHTTP := httptest.NewServer(sentrySrv)
	defer sentryHTTP.Close()
	slackHTTP := httptest.NewServer(slackSrv)
	defer slackHTTP.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
sinks:
  datadog: {addr: "` + dd.Addr() + `", namespace: vigil}
  sentry: {dsn: "http://key@` + strings.TrimPrefix(sentryHTTP.URL, "http://") + `/42", environment: test}
  slack: {webhook_url: "` + slackHTTP.URL + `/hook", group_wait: 2s}
datasources:
  db: {driver: sqlite, dsn: ` + db.DSN + `}
checks:
  - {id: negative-premiums, kind: sql, datasource: db, schedule: "@every 1s", query: "SELECT policy_id, premium FROM premiums WHERE premium <= 0"}
`})
	cmd, _, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\n%s", what, logs)
			}
		}
	}
	waitFor("the Slack open message", func() bool { return strings.Contains(slackSrv.all(), "negative-premiums") })
	waitFor("a Sentry event", func() bool { return strings.Contains(sentrySrv.all(), `"fingerprint":["negative-premiums"]`) })
	if !strings.Contains(sentrySrv.all(), `"type":"check_in"`) {
		t.Errorf("no Sentry check-in among:\n%s", sentrySrv.all())
	}
	if !strings.Contains(slackSrv.all(), "P-1") {
		t.Errorf("the Slack message lacks the sample key:\n%s", slackSrv.all())
	}

	// Gauges aggregate client-side (last value per flush), so read the
	// failing state's lines before the data is fixed.
	var lines []string
	waitFor("the failing gauges", func() bool {
		lines = append(lines, dd.Take(100*time.Millisecond)...)
		all := strings.Join(lines, "\n")
		return strings.Contains(all, "vigil.check.violations:1|g") && strings.Contains(all, "vigil.check.up:0|g")
	})

	db.Exec(t, "UPDATE premiums SET premium = 10")
	waitFor("the Slack resolve message", func() bool { return len(strings.Split(slackSrv.all(), "\n")) >= 2 })
	time.Sleep(3 * time.Second) // more passing runs must not send more messages
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	var messages int
	for _, b := range strings.Split(slackSrv.all(), "\n") {
		if json.Valid([]byte(b)) {
			messages++
		}
	}
	if messages != 2 {
		t.Errorf("Slack got %d messages, want exactly 2 (open, resolve):\n%s", messages, slackSrv.all())
	}
	all := strings.Join(append(lines, dd.Take(500*time.Millisecond)...), "\n")
	for _, want := range []string{"vigil.check.run:", "status:fail", "status:pass", "vigil.check.violations:1|g", "vigil.check.up:0|g", "vigil.check.up:1|g", "vigil.check.duration:"} {
		if !strings.Contains(all, want) {
			t.Errorf("DogStatsD lines lack %q:\n%s", want, all)
		}
	}
}
