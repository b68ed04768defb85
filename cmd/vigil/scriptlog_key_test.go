package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// keyedConfig writes a config whose script log is keyed with a fresh key
// file (mode 0600) and anchored to anchors.log, both beside it, and returns
// the config's path and the key.
func keyedConfig(t *testing.T, extra string) (string, scriptlog.Key) {
	t.Helper()
	dir := t.TempDir()
	secret := []byte("cli-test-key: 32 bytes or more, kept off the store")
	if err := os.WriteFile(filepath.Join(dir, "vigil-scriptlog.key"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := scriptlog.NewKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
store: {driver: sqlite, dsn: store.db}
datasources: {}
checks:
  - {id: api, kind: http, url: "http://127.0.0.1:1/", schedule: "@every 1h"}
scriptlog: {key_file: vigil-scriptlog.key, anchor_file: anchors.log}
` + extra})
	return filepath.Join(dir, "vigil.yaml"), key
}

func execRuns(t *testing.T, cfg string, scripts ...string) {
	t.Helper()
	for i, script := range scripts {
		if _, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "run "+strconv.Itoa(i), "--", "sh", "-c", script); code == exitBroken {
			t.Fatalf("exec %d: exit %d\n%s", i, code, stderr)
		}
	}
}

var anchorLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ seq=(\d+) hash=[0-9a-f]{64}\n$`)

// TestScriptlogKeyedCLI drives the keyed log as an operator would: exec
// records under the key, `scriptlog head` is appended to the anchor file,
// verify names the key and checks the anchors; then each attack of issue 12
// on the store file is reported, with the record it concerns.
func TestScriptlogKeyedCLI(t *testing.T) {
	setup := func(t *testing.T) (cfg string, key scriptlog.Key, store string) {
		cfg, key = keyedConfig(t, "")
		execRuns(t, cfg, "echo one", "exit 1", "echo three")
		head, stderr, code := vigil(t, nil, "scriptlog", "head", "-c", cfg)
		if code != 0 || !anchorLine.MatchString(head) || !strings.Contains(head, " seq=7 ") {
			t.Fatalf("scriptlog head: exit %d, %q %s", code, head, stderr)
		}
		f, err := os.OpenFile(filepath.Join(filepath.Dir(cfg), "anchors.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(head)
		f.Close()
		out, code := verifyLog(t, cfg)
		for _, want := range []string{
			"key: " + key.ID() + " (scriptlog.key_file ", "script log intact: 3 runs in 7 entries (1 checkpoints)",
			"entries 1 to 7: keyed with key " + key.ID(), "anchors: 1 anchored heads from ",
		} {
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("verify: exit %d, want %q in\n%s", code, want, out)
			}
		}
		if strings.Contains(out, "cli-test-key") {
			t.Fatalf("verify prints the key:\n%s", out)
		}
		return cfg, key, filepath.Join(filepath.Dir(cfg), "store.db")
	}

	t.Run("forged checkpoint", func(t *testing.T) {
		cfg, _, store := setup(t)
		db := tamperSQLite(t, store)
		var prev, last, head string
		if err := db.QueryRow("SELECT (SELECT prev_hash FROM script_log WHERE seq = 4), (SELECT hash FROM script_log WHERE seq = 5), (SELECT hash FROM script_log WHERE seq = 7)").Scan(&prev, &last, &head); err != nil {
			t.Fatal(err)
		}
		cp := fmt.Sprintf(`{"runs":1,"gaps":[{"first":4,"last":5,"prev_hash":%q,"last_hash":%q}]}`, prev, last)
		e := scriptlog.Entry{Seq: 8, Kind: scriptlog.KindCheckpoint, At: time.Now().UTC().Truncate(time.Microsecond), Checkpoint: cp, PrevHash: head, Output: []byte{}}
		e.Hash = scriptlog.HashEntry(scriptlog.Key{}, e.PrevHash, e) // the public encoding
		if _, err := db.Exec("DELETE FROM script_log WHERE seq IN (4, 5)"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("INSERT INTO script_log (seq, kind, run_id, at, checkpoint, prev_hash, hash) VALUES (8, 'checkpoint', 0, ?, ?, ?, ?)",
			e.At.Format(scriptlog.TimeLayout), e.Checkpoint, e.PrevHash, e.Hash); err != nil {
			t.Fatal(err)
		}
		out, code := verifyLog(t, cfg)
		if want := "script log broken at record 6 (start entry 6): entries 4 to 5 are missing and no checkpoint vouches for them: deleted"; code != exitFail || !strings.Contains(out, want) {
			t.Errorf("exit %d, want 1 and %q in\n%s", code, want, out)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		cfg, _, store := setup(t)
		if _, err := tamperSQLite(t, store).Exec("DELETE FROM script_log WHERE seq >= 6"); err != nil {
			t.Fatal(err)
		}
		out, code := verifyLog(t, cfg)
		if want := "is gone: the chain now ends at entry 5, so its newest entries were removed"; code != exitFail || !strings.Contains(out, "script log broken at entry 7: the head anchored at ") || !strings.Contains(out, want) {
			t.Errorf("exit %d, want 1 and %q in\n%s", code, want, out)
		}
	})
	t.Run("verified without the key", func(t *testing.T) {
		cfg, key, _ := setup(t)
		body, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		unkeyed := strings.Replace(string(body), "key_file: vigil-scriptlog.key, ", "", 1)
		if err := os.WriteFile(cfg, []byte(unkeyed), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := verifyLog(t, cfg)
		if code != exitFail || !strings.Contains(out, "unkeyed: detects accidents, not a store writer") ||
			!strings.Contains(out, "broken at entry 1 (checkpoint): starts a part keyed with key "+key.ID()+", which was not given") {
			t.Errorf("exit %d:\n%s", code, out)
		}
		// And an unkeyed vigil exec refuses to append to the keyed chain.
		_, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "p", "--", "true")
		if code != exitBroken || !strings.Contains(stderr, "the log is keyed") {
			t.Errorf("unkeyed exec on a keyed log: exit %d, %s", code, stderr)
		}
	})
}

// TestServeRequiresScriptlogKey: with auth configured and no key, serve
// refuses to start, and says how to make a key.
func TestServeRequiresScriptlogKey(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
datasources: {}
checks:
  - {id: api, kind: http, url: "http://127.0.0.1:1/", schedule: "@every 1h"}
auth:
  tokens:
    - {name: ci, token_sha256: ` + strings.Repeat("ab", 32) + `, role: operator}
`})
	_, stderr, code := vigil(t, nil, "serve", "-c", filepath.Join(dir, "vigil.yaml"), "--listen", "127.0.0.1:0")
	for _, want := range []string{"scriptlog.key_file is required when auth is configured", "head -c 32 /dev/urandom > vigil-scriptlog.key && chmod 600 vigil-scriptlog.key"} {
		if code != exitBroken || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want 2 and %q in\n%s", code, want, stderr)
		}
	}
}

// TestServeAnchorsTheHead: serve seals the log with its key when it
// starts and anchors the head then, as it changes and when it stops; verify
// checks every anchored head, so a truncation since is reported.
func TestServeAnchorsTheHead(t *testing.T) {
	cfg, key := keyedConfig(t, "")
	// A run recorded before the key was configured: unkeyed.
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	unkeyed := filepath.Join(filepath.Dir(cfg), "unkeyed.yaml")
	if err := os.WriteFile(unkeyed, []byte(strings.Replace(string(body), "key_file: vigil-scriptlog.key, ", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	execRuns(t, unkeyed, "echo before the key")
	cmd, _, logs := startServe(t, cfg)
	anchors := filepath.Join(filepath.Dir(cfg), "anchors.log")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, _ := os.ReadFile(anchors); strings.Contains(string(b), " seq=3 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not anchor the head:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	execRuns(t, cfg, "echo while serving")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, logs)
	}
	as, err := scriptlog.ReadAnchorFile(anchors)
	if err != nil || len(as) != 2 || as[0].Seq != 3 || as[1].Seq != 5 {
		t.Fatalf("anchors = %+v, %v; want the head at start (3) and at stop (5)", as, err)
	}
	fi, err := os.Stat(anchors)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("anchor file mode = %v, %v", fi.Mode(), err)
	}
	out, code := verifyLog(t, cfg)
	if code != 0 || !strings.Contains(out, "entries 1 to 2: unkeyed, sealed by the keyed entry 3") ||
		!strings.Contains(out, "entries 3 to 5: keyed with key "+key.ID()) || !strings.Contains(out, "anchors: 2 anchored heads") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if _, err := tamperSQLite(t, filepath.Join(filepath.Dir(cfg), "store.db")).Exec("DELETE FROM script_log WHERE seq >= 4"); err != nil {
		t.Fatal(err)
	}
	if out, code := verifyLog(t, cfg); code != exitFail || !strings.Contains(out, "broken at entry 5: the head anchored at ") {
		t.Errorf("after truncation: exit %d\n%s", code, out)
	}
}

// TestExecRedactsConfigCredentials: whatever a script prints of the
// config's credentials — an http check's API-key header and query token, a
// libpq password with spaces and an escaped quote (PostgreSQL docs 34.1.1.1)
// — and the value of a recorded variable whose name looks secret, is masked
// before it is stored.
func TestExecRedactsConfigCredentials(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
store: {driver: sqlite, dsn: store.db}
datasources:
  policies: {driver: postgres, dsn: "host=db.invalid user=app password = 'it\\'s a pass phrase' dbname=p"}
checks:
  - id: api
    kind: http
    url: "https://api.example.com/health?token=qtok-31337&verbose=true"
    headers: {x-api-key: "da2-k3y-appsync", Accept: application/json}
    schedule: "@every 1h"
`})
	cfg := filepath.Join(dir, "vigil.yaml")
	script := `printf '%s|%s|%s|%s\n' "it's a pass phrase" qtok-31337 da2-k3y-appsync "$DEPLOY_CRED"`
	_, stderr, code := vigil(t, []string{"DEPLOY_CRED=ops-cred-2718"}, "exec", "-c", cfg, "--purpose", "leak test", "--env", "DEPLOY_CRED", "--", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s", code, stderr)
	}
	run := showRun(t, cfg, runID(t, stderr))
	if want := "[REDACTED]|[REDACTED]|[REDACTED]|[REDACTED]\n"; run.Output == nil || *run.Output != want {
		t.Errorf("stored output = %q, want %q", deref(run.Output), want)
	}
	if len(run.Inputs.Env) != 1 || run.Inputs.Env[0].Value != scriptlog.Mask {
		t.Errorf("stored env = %+v", run.Inputs.Env)
	}
	b, err := os.ReadFile(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "store.db-wal"))
	for _, secret := range []string{"pass phrase", "qtok-31337", "da2-k3y-appsync", "ops-cred-2718"} {
		if strings.Contains(string(b)+string(wal), secret) {
			t.Errorf("%q is in the store's files", secret)
		}
	}
}
