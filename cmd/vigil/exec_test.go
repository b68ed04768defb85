package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/testdb"
)

// Secrets in the config that scriptlogConfig writes; none may reach the store.
const (
	pgPassword   = "pg-Secret-77"
	slackWebhook = "https://hooks.slack.com/services/T0AAAA/B0BBBB/slackSecret99"
)

// scriptlogConfig writes a vigil.yaml whose store is storeYAML (a flow
// mapping) into a fresh directory and returns the config's path.
func scriptlogConfig(t *testing.T, storeYAML string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"vigil.yaml": `
store: ` + storeYAML + `
datasources:
  policies: {driver: postgres, dsn: "postgres://app:` + pgPassword + `@db.invalid:5432/policies"}
checks:
  - {id: probe, kind: sql, datasource: policies, query: SELECT 1}
sinks:
  slack: {webhook_url: "` + slackWebhook + `"}
`})
	return filepath.Join(dir, "vigil.yaml")
}

var recordedRun = regexp.MustCompile(`recorded script run (\d+): `)

// runID returns the run id `vigil exec` reported on stderr.
func runID(t *testing.T, stderr string) int64 {
	t.Helper()
	m := recordedRun.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("vigil exec did not report a recorded run:\n%s", stderr)
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// showRun returns run id as `vigil scriptlog show --format json` prints it.
func showRun(t *testing.T, cfg string, id int64) scriptlog.JSON {
	t.Helper()
	stdout, stderr, code := vigil(t, nil, "scriptlog", "show", "-c", cfg, "--format", "json", strconv.FormatInt(id, 10))
	if code != 0 {
		t.Fatalf("scriptlog show %d: exit %d\n%s", id, code, stderr)
	}
	var r scriptlog.JSON
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("scriptlog show %d: %v\n%s", id, err, stdout)
	}
	return r
}

// output returns a shown run's stored output bytes.
func output(t *testing.T, r scriptlog.JSON) []byte {
	t.Helper()
	if r.Output != nil {
		return []byte(*r.Output)
	}
	b, err := base64.StdEncoding.DecodeString(r.OutputBase64)
	if err != nil {
		t.Fatalf("run %d: output_base64: %v", r.ID, err)
	}
	return b
}

// listRuns returns `vigil scriptlog list --format json` with filter flags.
func listRuns(t *testing.T, cfg string, flags ...string) []scriptlog.JSON {
	t.Helper()
	stdout, stderr, code := vigil(t, nil, append([]string{"scriptlog", "list", "-c", cfg, "--format", "json"}, flags...)...)
	if code != 0 {
		t.Fatalf("scriptlog list %v: exit %d\n%s", flags, code, stderr)
	}
	var runs []scriptlog.JSON
	if err := json.Unmarshal([]byte(stdout), &runs); err != nil {
		t.Fatalf("scriptlog list %v: %v\n%s", flags, err, stdout)
	}
	return runs
}

// verifyLog runs `vigil scriptlog verify` and returns its stdout and exit code.
func verifyLog(t *testing.T, cfg string) (string, int) {
	t.Helper()
	stdout, stderr, code := vigil(t, nil, "scriptlog", "verify", "-c", cfg)
	if code == exitBroken {
		t.Fatalf("scriptlog verify: exit 2\n%s%s", stdout, stderr)
	}
	return stdout, code
}

// storeFiles returns the bytes of a SQLite store and its WAL.
func storeFiles(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatalf("store %s is empty or missing", path)
	}
	return all
}

func TestExecRecordsRuns(t *testing.T) {
	cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
	dir := filepath.Dir(cfg)
	binary := make([]byte, 0, 1024)
	for i := range 1024 {
		binary = append(binary, byte(i))
	}
	writeFiles(t, dir, map[string]string{"binary.dat": string(binary)})

	tests := []struct {
		name       string
		flags      []string // before --
		env        []string
		command    []string
		wantCode   int
		wantStatus scriptlog.Status
		wantStdout string // exactly what vigil exec streams to stdout
		wantStderr string // a prefix of what it streams to stderr
		wantOutput []byte // exactly what the record keeps
		check      func(t *testing.T, r scriptlog.JSON)
	}{
		{name: "success", flags: []string{"--ticket", "OPS-1", "--target", "policies", "--actor", "alice"},
			command: []string{"sh", "-c", "echo hello"}, wantStatus: "success",
			wantStdout: "hello\n", wantOutput: []byte("hello\n"),
			check: func(t *testing.T, r scriptlog.JSON) {
				if r.Actor != "alice" || r.Ticket != "OPS-1" || r.Target != "policies" || r.Purpose != "success" {
					t.Errorf("actor, ticket, target, purpose = %q %q %q %q", r.Actor, r.Ticket, r.Target, r.Purpose)
				}
				if r.Script != "sh -c 'echo hello'" || !slices.Equal(r.Inputs.Args, []string{"-c", "echo hello"}) {
					t.Errorf("script %q, args %q", r.Script, r.Inputs.Args)
				}
				if r.EndedAt == nil || r.EndedAt.Before(r.StartedAt) {
					t.Errorf("started %v, ended %v", r.StartedAt, r.EndedAt)
				}
			}},
		{name: "failure propagates its exit code", command: []string{"sh", "-c", "echo oops >&2; exit 3"},
			wantCode: 3, wantStatus: "failed", wantStderr: "oops\n", wantOutput: []byte("oops\n")},
		{name: "killed child", command: []string{"sh", "-c", "echo bye; kill -9 $$"},
			wantCode: 128 + 9, wantStatus: "interrupted", wantStdout: "bye\n", wantOutput: []byte("bye\n")},
		{name: "command not found", command: []string{"./no-such-script.sh"}, wantCode: 127, wantStatus: "failed",
			check: func(t *testing.T, r scriptlog.JSON) {
				if !strings.Contains(*r.Output, "no-such-script.sh") {
					t.Errorf("output %q does not say what could not run", *r.Output)
				}
			}},
		{name: "binary output", command: []string{"cat", filepath.Join(dir, "binary.dat")}, wantStatus: "success",
			wantStdout: string(binary), wantOutput: binary},
		{name: "interleaved stderr",
			command:    []string{"sh", "-c", "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo err2 >&2"},
			wantStatus: "success", wantStdout: "out1\nout2\n", wantStderr: "err1\nerr2\n",
			wantOutput: []byte("out1\nerr1\nout2\nerr2\n")},
		{name: "password in arguments", command: []string{"echo", "--user=bob", "--password=hunter2-Secret"},
			wantStatus: "success", wantStdout: "--user=bob --password=hunter2-Secret\n",
			wantOutput: []byte("--user=bob --password=[REDACTED]\n"),
			check: func(t *testing.T, r scriptlog.JSON) {
				if r.Script != "echo --user=bob --password=[REDACTED]" {
					t.Errorf("script = %q", r.Script)
				}
			}},
		{name: "config secrets in output", command: []string{"sh", "-c", "echo db " + pgPassword + " hook " + slackWebhook},
			wantStatus: "success", wantStdout: "db " + pgPassword + " hook " + slackWebhook + "\n",
			wantOutput: []byte("db [REDACTED] hook [REDACTED]\n")},
		{name: "chosen environment", flags: []string{"--env", "MODE", "--env", "API_TOKEN", "--env", "UNSET_ONE"},
			env: []string{"MODE=dry-run", "API_TOKEN=tok-Secret-123"}, command: []string{"sh", "-c", "echo $API_TOKEN"},
			wantStatus: "success", wantStdout: "tok-Secret-123\n", wantOutput: []byte("[REDACTED]\n"),
			check: func(t *testing.T, r scriptlog.JSON) {
				want := `[{"name":"MODE","value":"dry-run"},{"name":"API_TOKEN","value":"[REDACTED]"},{"name":"UNSET_ONE","value":"","unset":true}]`
				if got, _ := json.Marshal(r.Inputs.Env); string(got) != want {
					t.Errorf("env = %s, want %s", got, want)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"exec", "-c", cfg, "--purpose", tt.name}, tt.flags...)
			args = append(append(args, "--"), tt.command...)
			stdout, stderr, code := vigil(t, tt.env, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstderr: %s", code, tt.wantCode, stderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("streamed stdout = %q, want %q", stdout, tt.wantStdout)
			}
			if !strings.HasPrefix(stderr, tt.wantStderr) {
				t.Errorf("streamed stderr = %q, want it to start with %q", stderr, tt.wantStderr)
			}
			r := showRun(t, cfg, runID(t, stderr))
			if r.Status != tt.wantStatus || r.ExitCode == nil || *r.ExitCode != tt.wantCode {
				t.Errorf("recorded status %s, exit %v; want %s, %d", r.Status, r.ExitCode, tt.wantStatus, tt.wantCode)
			}
			if got := output(t, r); tt.wantOutput != nil && !bytes.Equal(got, tt.wantOutput) {
				t.Errorf("recorded output = %q, want %q", got, tt.wantOutput)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}

	stored := storeFiles(t, filepath.Join(dir, "store.db"))
	for _, secret := range []string{"hunter2-Secret", pgPassword, "slackSecret99", "tok-Secret-123"} {
		if bytes.Contains(stored, []byte(secret)) {
			t.Errorf("the store file holds the secret %q", secret)
		}
	}
	if out, code := verifyLog(t, cfg); code != 0 || !strings.Contains(out, fmt.Sprintf("%d runs", len(tests))) {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}

func TestExecCapsHugeOutput(t *testing.T) {
	cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
	const lines = 400_000 // about 2.7 MB, over the 1 MiB cap
	var want bytes.Buffer
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	stdout, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "huge", "--", "seq", "1", strconv.Itoa(lines))
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if stdout != want.String() {
		t.Errorf("streamed %d bytes, want all %d", len(stdout), want.Len())
	}
	r := showRun(t, cfg, runID(t, stderr))
	got := output(t, r)
	if r.OutputBytes != int64(want.Len()) {
		t.Errorf("output_bytes = %d, want %d", r.OutputBytes, want.Len())
	}
	if len(got) > 1<<20+100 || len(got) < 1<<20 {
		t.Errorf("kept %d bytes, want the 1 MiB cap plus a marker", len(got))
	}
	if !bytes.HasPrefix(got, []byte("1\n2\n3\n")) || !bytes.HasSuffix(got, []byte(fmt.Sprintf("%d\n%d\n", lines-1, lines))) {
		t.Errorf("kept output does not hold the head and the tail: %q ... %q", got[:20], got[len(got)-20:])
	}
	if !bytes.Contains(got, []byte("bytes of output omitted")) {
		t.Error("kept output does not say what was left out")
	}
}

// TestExecForwardsSignals sends a signal to vigil exec while its command
// runs: the command gets it, and the run is recorded as interrupted.
func TestExecForwardsSignals(t *testing.T) {
	tests := []struct {
		name string
		sig  syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGINT", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
			script := `trap 'echo caught; exit 5' ` + strings.TrimPrefix(tt.name, "SIG") + `; echo ready; while :; do sleep 0.05; done`
			cmd := exec.Command(vigilBin, "exec", "-c", cfg, "--purpose", "signal", "--", "sh", "-c", script)
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			lines := bufio.NewReader(pipe)
			if line, err := lines.ReadString('\n'); line != "ready\n" {
				t.Fatalf("first line %q (%v), want ready\nstderr: %s", line, err, errOut.String())
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(lines)
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 5 {
				t.Fatalf("vigil exec ended with %v, want the command's exit code 5\nstderr: %s", err, errOut.String())
			}
			if string(rest) != "caught\n" {
				t.Errorf("after the signal the command wrote %q, want caught (its trap ran)", rest)
			}
			r := showRun(t, cfg, runID(t, errOut.String()))
			if r.Status != "interrupted" || *r.ExitCode != 5 || string(output(t, r)) != "ready\ncaught\n" {
				t.Errorf("recorded %s, exit %d, output %q; want interrupted, 5, ready and caught", r.Status, *r.ExitCode, output(t, r))
			}
		})
	}
}

// TestExecRefusesUnrecorded proves that vigil exec never runs a command it
// cannot record: the command would create a file.
func TestExecRefusesUnrecorded(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, cfg string) // breaks the store
		args       []string                       // between "exec -c cfg" and "--"
		wantStderr string
	}{
		{name: "no purpose", args: nil, wantStderr: "--purpose is required"},
		{name: "blank purpose", args: []string{"--purpose", "  "}, wantStderr: "--purpose is required"},
		{name: "store cannot be opened", args: []string{"--purpose", "fix"},
			setup: func(t *testing.T, cfg string) {
				// The store's path is a directory.
				if err := os.Mkdir(filepath.Join(filepath.Dir(cfg), "store.db"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantStderr: "not running touch"},
		{name: "store rejects the record", args: []string{"--purpose", "fix"},
			setup: func(t *testing.T, cfg string) {
				if _, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "create the store", "--", "true"); code != 0 {
					t.Fatalf("first exec: exit %d\n%s", code, stderr)
				}
				db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "store.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec("CREATE TRIGGER read_only BEFORE INSERT ON script_log BEGIN SELECT RAISE(ABORT, 'store is read-only'); END"); err != nil {
					t.Fatal(err)
				}
			},
			wantStderr: "store is read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
			if tt.setup != nil {
				tt.setup(t, cfg)
			}
			marker := filepath.Join(t.TempDir(), "ran")
			args := append(append([]string{"exec", "-c", cfg}, tt.args...), "--", "touch", marker)
			_, stderr, code := vigil(t, nil, args...)
			if code != exitBroken || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.wantStderr)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the command ran although it was not recorded (stat: %v)", err)
			}
		})
	}
}

// TestExecFindsConfig runs vigil exec without -c: VIGIL_CONFIG, then
// ./vigil.yaml, else a clear failure.
func TestExecFindsConfig(t *testing.T) {
	cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
	elsewhere := t.TempDir()
	tests := []struct {
		name     string
		dir      string
		env      []string
		wantCode int
		want     string
	}{
		{"VIGIL_CONFIG", elsewhere, []string{"VIGIL_CONFIG=" + cfg}, 0, "recorded script run"},
		{"vigil.yaml in the working directory", filepath.Dir(cfg), []string{"VIGIL_CONFIG="}, 0, "recorded script run"},
		{"no config", elsewhere, []string{"VIGIL_CONFIG="}, exitBroken, "no config: pass -c FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := vigilIn(t, tt.dir, tt.env, "exec", "--purpose", "find config", "--", "true")
			if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.want)
			}
		})
	}
	if runs := listRuns(t, cfg); len(runs) != 2 {
		t.Errorf("the store holds %d runs, want 2", len(runs))
	}
}

// tamperSQLite opens a SQLite store file directly, as an attacker with
// file access would.
func tamperSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestScriptlogVerifyDetectsTampering(t *testing.T) {
	// Each store holds three runs: ids 1, 3 and 5 (a run is a start and a
	// finish entry), the second one failed.
	tests := []struct {
		name string
		sql  string
		want string
	}{
		{"edited purpose", "UPDATE script_log SET purpose = 'routine' WHERE seq = 3",
			"record 3 (start entry 3): hash does not match the entry's content: the entry was edited"},
		{"edited exit code", "UPDATE script_log SET exit_code = 0, status = 'success' WHERE seq = 4",
			"record 3 (finish entry 4): hash does not match"},
		{"deleted finish entry", "DELETE FROM script_log WHERE seq = 4",
			"record 5 (start entry 5): entry 4 is missing and no checkpoint vouches for them: deleted"},
		{"deleted run", "DELETE FROM script_log WHERE run_id = 3",
			"record 5 (start entry 5): entries 3 to 4 are missing"},
		{"edited hash link", "UPDATE script_log SET prev_hash = hash WHERE seq = 5",
			"record 5 (start entry 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
			for i, script := range []string{"exit 0", "exit 1", "exit 0"} {
				if _, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "run "+strconv.Itoa(i), "--", "sh", "-c", script); code != i%2 {
					t.Fatalf("exec %d: exit %d\n%s", i, code, stderr)
				}
			}
			if out, code := verifyLog(t, cfg); code != 0 || !strings.Contains(out, "3 runs in 6 entries") || !strings.Contains(out, "head: entry 6") {
				t.Fatalf("before tampering: exit %d\n%s", code, out)
			}
			if _, err := tamperSQLite(t, filepath.Join(filepath.Dir(cfg), "store.db")).Exec(tt.sql); err != nil {
				t.Fatal(err)
			}
			out, code := verifyLog(t, cfg)
			if code != exitFail || !strings.Contains(out, "script log broken at "+tt.want) {
				t.Errorf("after tampering: exit %d, output %q; want 1 and %q", code, out, tt.want)
			}
		})
	}
}

func TestScriptlogListAndShow(t *testing.T) {
	cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
	runs := []struct {
		actor, purpose, ticket, target, script string
	}{
		{"alice", "Backfill endorsements", "OPS-1", "policies", "echo --since 2025-01-01"},
		{"bob", "redrive orders DLQ", "OPS-2", "queues", "echo orders-dlq; exit 4"},
		{"alice", "fix stuck documents", "OPS-2", "policies", "echo P-12345"},
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		_, stderr, _ := vigil(t, nil, "exec", "-c", cfg, "--actor", r.actor, "--purpose", r.purpose,
			"--ticket", r.ticket, "--target", r.target, "--", "sh", "-c", r.script)
		ids[i] = runID(t, stderr)
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format("2006-01-02")
	tests := []struct {
		name  string
		flags []string
		want  []int64 // newest first
	}{
		{"all", nil, []int64{ids[2], ids[1], ids[0]}},
		{"actor", []string{"--actor", "alice"}, []int64{ids[2], ids[0]}},
		{"purpose, any case", []string{"--purpose", "BACKFILL"}, []int64{ids[0]}},
		{"ticket", []string{"--ticket", "OPS-2"}, []int64{ids[2], ids[1]}},
		{"target", []string{"--target", "queues"}, []int64{ids[1]}},
		{"status", []string{"--status", "failed"}, []int64{ids[1]}},
		{"text of the command", []string{"--text", "p-123"}, []int64{ids[2]}},
		{"combined", []string{"--actor", "alice", "--ticket", "OPS-2"}, []int64{ids[2]}},
		{"limit", []string{"--limit", "2"}, []int64{ids[2], ids[1]}},
		{"since an hour ago", []string{"--since", "1h"}, []int64{ids[2], ids[1], ids[0]}},
		{"since tomorrow", []string{"--since", tomorrow}, []int64{}},
		{"until yesterday", []string{"--until", "2000-01-01"}, []int64{}},
		{"no match", []string{"--text", "nothing like this"}, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []int64{}
			for _, r := range listRuns(t, cfg, tt.flags...) {
				got = append(got, r.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("text table", func(t *testing.T) {
		stdout, _, code := vigil(t, nil, "scriptlog", "list", "-c", cfg, "--status", "failed")
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") ||
			!strings.Contains(lines[1], "bob") || !strings.Contains(lines[1], "failed") || !strings.Contains(lines[1], "redrive orders DLQ") {
			t.Errorf("exit %d, table:\n%s", code, stdout)
		}
	})
	t.Run("show text", func(t *testing.T) {
		// Flags may follow the id.
		stdout, stderr, code := vigil(t, nil, "scriptlog", "show", strconv.FormatInt(ids[1], 10), "-c", cfg)
		for _, want := range []string{"actor:     bob", "purpose:   redrive orders DLQ", "ticket:    OPS-2",
			"status:    failed", "exit code: 4", "--- output: 11 bytes written, 11 bytes kept ---\norders-dlq\n"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("show lacks %q (exit %d):\n%s%s", want, code, stdout, stderr)
			}
		}
	})
	bad := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"unknown run", []string{"show", "-c", cfg, "999"}, exitFail, "no script run 999"},
		{"not an id", []string{"show", "-c", cfg, "x"}, exitBroken, `"x" is not a run id`},
		{"bad status", []string{"list", "-c", cfg, "--status", "done"}, exitBroken, "--status must be"},
		{"bad time", []string{"list", "-c", cfg, "--since", "last week"}, exitBroken, `--since: cannot read "last week"`},
		{"bad format", []string{"list", "-c", cfg, "--format", "xml"}, exitBroken, "--format must be text or json"},
		{"unknown subcommand", []string{"frob"}, exitBroken, `unknown subcommand "frob"`},
		{"bad config", []string{"verify", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, exitBroken, "read config"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := vigil(t, nil, append([]string{"scriptlog"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.want)
			}
		})
	}
}

// TestScriptlogOnPostgres records, searches, verifies and detects tampering
// with the script log in a PostgreSQL store.
func TestScriptlogOnPostgres(t *testing.T) {
	db := testdb.Postgres(t)
	cfg := scriptlogConfig(t, `{driver: postgres, dsn: "`+db.AdminDSN+`"}`)
	for _, script := range []string{"echo one", "echo two >&2; exit 3"} {
		if _, stderr, code := vigil(t, nil, "exec", "-c", cfg, "--purpose", "pg "+script, "--", "sh", "-c", script); !strings.Contains(stderr, "recorded script run") || code == exitBroken {
			t.Fatalf("exec %q: exit %d\n%s", script, code, stderr)
		}
	}
	runs := listRuns(t, cfg)
	if len(runs) != 2 || runs[0].Status != "failed" || runs[1].Status != "success" {
		t.Fatalf("runs = %+v", runs)
	}
	if r := showRun(t, cfg, runs[0].ID); string(output(t, r)) != "two\n" || *r.ExitCode != 3 {
		t.Errorf("show: output %q, exit %d", output(t, r), *r.ExitCode)
	}
	if got := listRuns(t, cfg, "--text", "ONE"); len(got) != 1 || got[0].ID != runs[1].ID {
		t.Errorf("--text ONE = %+v", got)
	}
	if out, code := verifyLog(t, cfg); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if _, err := db.Admin.Exec("UPDATE script_log SET output = convert_to('nothing', 'UTF8') WHERE seq = 4"); err != nil {
		t.Fatal(err)
	}
	if out, code := verifyLog(t, cfg); code != exitFail || !strings.Contains(out, "record 3 (finish entry 4)") {
		t.Errorf("after tampering: exit %d\n%s", code, out)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		end      bool
		want     time.Time
		wantErr  bool
	}{
		{name: "RFC 3339", in: "2025-03-01T09:30:00+02:00", want: time.Date(2025, 3, 1, 7, 30, 0, 0, time.UTC)},
		{name: "date as a start", in: "2025-03-01", want: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)},
		{name: "date as an end includes the day", in: "2025-03-01", end: true, want: time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)},
		{name: "date and time, UTC", in: "2025-03-01 09:30:15", want: time.Date(2025, 3, 1, 9, 30, 15, 0, time.UTC)},
		{name: "date and minutes", in: "2025-03-01T09:30", want: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)},
		{name: "hours ago", in: "36h", want: now.Add(-36 * time.Hour)},
		{name: "days ago", in: "7d", want: now.AddDate(0, 0, -7)},
		{name: "prose", in: "last week", wantErr: true},
		{name: "negative duration", in: "-1h", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWhen(tt.in, now, tt.end)
			if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
				t.Errorf("parseWhen(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// BenchmarkExecOverhead compares `vigil exec -- true` (config load, store
// open, two appends to a SQLite script log) with running true directly.
func BenchmarkExecOverhead(b *testing.B) {
	dir := b.TempDir()
	cfg := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(cfg, []byte(`
store: {driver: sqlite, dsn: store.db}
datasources:
  db: {driver: sqlite, dsn: data.db}
checks:
  - {id: probe, kind: sql, datasource: db, query: SELECT 1}
`), 0o644); err != nil {
		b.Fatal(err)
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, args ...string) time.Duration {
		start := time.Now()
		if out, err := exec.CommandContext(context.Background(), name, args...).CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return time.Since(start)
	}
	run(vigilBin, "exec", "-c", cfg, "--purpose", "warm up", "--", "true") // creates the store
	var direct, wrapped time.Duration
	for b.Loop() {
		direct += run(truePath)
		wrapped += run(vigilBin, "exec", "-c", cfg, "--purpose", "bench", "--", "true")
	}
	n := float64(b.N)
	b.ReportMetric(float64(direct.Microseconds())/1000/n, "direct-ms/run")
	b.ReportMetric(float64(wrapped.Microseconds())/1000/n, "exec-ms/run")
	b.ReportMetric(float64(wrapped)/float64(direct), "ratio")
}

// TestExecOutlivesClosedStdout closes vigil exec's stdout mid-run (as
// `vigil exec ... | head -1` does): the command still runs to its end, and
// the record keeps all of its output.
func TestExecOutlivesClosedStdout(t *testing.T) {
	cfg := scriptlogConfig(t, "{driver: sqlite, dsn: store.db}")
	cmd := exec.Command(vigilBin, "exec", "-c", cfg, "--purpose", "pipe", "--", "sh", "-c", "echo one; sleep 0.2; echo two; echo three")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(pipe).ReadString('\n'); line != "one\n" {
		t.Fatalf("first line %q (%v)\nstderr: %s", line, err, errOut.String())
	}
	pipe.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("vigil exec: %v\nstderr: %s", err, errOut.String())
	}
	r := showRun(t, cfg, runID(t, errOut.String()))
	if r.Status != "success" || string(output(t, r)) != "one\ntwo\nthree\n" {
		t.Errorf("recorded %s with output %q; want success and all three lines", r.Status, output(t, r))
	}
}
