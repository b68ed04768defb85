package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/sqstest"
	"github.com/vigilhq/vigil/internal/store"
)

// TestDLQFailsThenRedriveEmptiesIt fills a real dead-letter queue through
// maxReceiveCount, sees `run --once` fail with its depth and source, redrives
// it from the CLI and sees it pass again, with the redrive audited.
func TestDLQFailsThenRedriveEmptiesIt(t *testing.T) {
	srv := sqstest.Start(t)
	pair := srv.CreatePair(t, "policy-events", "policy-events-dlq", 1, nil, nil)
	srv.FailMessages(t, pair, 3)

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer api.Close()

	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources:
  queues: {driver: sqs, region: us-east-1, endpoint: "` + srv.Endpoint + `"}
checks:
  - id: policy-events-dlq
    kind: sqs_dlq
    datasource: queues
    queues: [policy-events-dlq]
  - id: quote-api
    kind: http
    url: ` + api.URL + `/quote?token=secret
    max_latency: 5s
    body_contains: ok
`})
	cfg := filepath.Join(dir, "vigil.yaml")
	stdout, stderr, code := vigil(t, nil, "run", "--once", "-c", cfg, "--format", "json")
	if code != 1 {
		t.Fatalf("run with a filled DLQ: exit %d, want 1\n%s%s", code, stdout, stderr)
	}
	var results []struct {
		Check, Status string
		Sample        []struct{ Key, Detail string }
	}
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatal(err)
	}
	dlq := results[0]
	if dlq.Status != "fail" || len(dlq.Sample) != 1 || dlq.Sample[0].Key != "policy-events-dlq" ||
		!strings.Contains(dlq.Sample[0].Detail, "depth 3") || !strings.Contains(dlq.Sample[0].Detail, "policy-events") {
		t.Fatalf("dlq result = %+v; want fail with depth 3 from policy-events", dlq)
	}
	if api := results[1]; api.Status != "pass" {
		t.Errorf("quote-api = %+v, want pass", api)
	}
	if strings.Contains(stdout, "secret") {
		t.Errorf("output leaks the URL's query string:\n%s", stdout)
	}

	out, stderr, code := vigil(t, nil, "redrive", "-c", cfg, "--queue", "policy-events-dlq", "--dry-run", "--actor", "alice")
	if code != 0 || !strings.Contains(out, "would move 3") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, stderr)
	}
	if got := srv.Depth(t, pair.DLQURL); got != 3 {
		t.Fatalf("dry run moved messages: depth %d", got)
	}
	out, stderr, code = vigil(t, nil, "redrive", "-c", cfg, "--queue", "policy-events-dlq", "--rate", "50", "--actor", "alice")
	if code != 0 {
		t.Fatalf("redrive: exit %d\n%s%s", code, out, stderr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Depth(t, pair.DLQURL) != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if got := srv.Depth(t, pair.DLQURL); got != 0 {
		t.Fatalf("after redrive the DLQ holds %d messages", got)
	}
	if _, _, code := vigil(t, nil, "run", "--once", "-c", cfg, "--check", "policy-events-dlq"); code != 0 {
		t.Errorf("run after redrive: exit %d, want 0", code)
	}

	st, err := store.Open(t.Context(), "sqlite", filepath.Join(dir, "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log, err := st.AuditLog(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Actor != "alice" || log[0].Action != "redrive" || log[0].Target != "policy-events-dlq" || !strings.Contains(log[1].Detail, "dry run") {
		t.Errorf("audit log = %+v; want the dry run and the redrive by alice", log)
	}

	if _, stderr, code := vigil(t, nil, "redrive", "-c", cfg, "--queue", "policy-events"); code != 2 || !strings.Contains(stderr, "dead-letter") {
		t.Errorf("redrive of a source queue: exit %d, stderr %q; want a refusal", code, stderr)
	}
}
