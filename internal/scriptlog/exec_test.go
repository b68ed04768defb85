package scriptlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a live writer a test can read while the child runs; it
// closes seen the first time its content contains want.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func newSyncBuffer(want string) *syncBuffer {
	return &syncBuffer{want: want, seen: make(chan struct{})}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.want != "" && strings.Contains(b.buf.String(), b.want) {
		close(b.seen)
		b.want = ""
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func execOpts(args ...string) ExecOptions {
	return ExecOptions{Purpose: "test", Actor: "tester", Args: args, Env: []string{"PATH=" + os.Getenv("PATH")}}
}

// stored re-reads a run and checks the chain, so every test asserts on what
// was really recorded.
func stored(t *testing.T, log Log, id int64) Record {
	t.Helper()
	rec, err := log.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, log); !rep.OK() {
		t.Fatalf("chain broken: %v", rep.Broken)
	}
	return rec
}

func TestExecSuccessRecordsRedactedRun(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	stdout, stderr := newSyncBuffer(""), newSyncBuffer("")
	opts := execOpts("sh", "-c", `echo "connecting with $PGPASSWORD and $2"; sleep 0.2; echo warn >&2`, "sh", "--password", "hunter22")
	opts.Env = append(opts.Env, "PGPASSWORD=supersecret", "PGHOST=db.internal", "DATABASE_URL=postgres://app:pw1234@db/x")
	opts.EnvNames = []string{"PGPASSWORD", "PGHOST", "DATABASE_URL", "NOT_SET"}
	opts.Ticket, opts.Target = "OPS-7", "policies"
	opts.Stdout, opts.Stderr = stdout, stderr

	code, rec, err := Exec(context.Background(), opts, log)
	if err != nil || code != 0 {
		t.Fatalf("Exec = %d, %v", code, err)
	}
	if got, want := stdout.String(), "connecting with supersecret and hunter22\n"; got != want {
		t.Errorf("live stdout = %q, want %q", got, want)
	}
	if got := stderr.String(); got != "warn\n" {
		t.Errorf("live stderr = %q", got)
	}
	got := stored(t, log, rec.ID)
	if got.Status != Success || got.ExitCode != 0 || got.EndedAt.Before(got.StartedAt) || got.Actor != "tester" ||
		got.Ticket != "OPS-7" || got.Target != "policies" || got.Purpose != "test" {
		t.Errorf("record = %+v", got)
	}
	wantOut := "connecting with [REDACTED] and [REDACTED]\nwarn\n"
	if string(got.Output) != wantOut || got.OutputBytes != int64(len("connecting with supersecret and hunter22\nwarn\n")) {
		t.Errorf("output = %q (%d bytes), want %q", got.Output, got.OutputBytes, wantOut)
	}
	if strings.Contains(got.Script, "hunter22") || !strings.HasSuffix(got.Script, " sh --password [REDACTED]") {
		t.Errorf("script = %q", got.Script)
	}
	wantEnv := []EnvVar{
		{Name: "PGPASSWORD", Value: Mask}, {Name: "PGHOST", Value: "db.internal"},
		{Name: "DATABASE_URL", Value: "postgres://app:" + Mask + "@db/x"}, {Name: "NOT_SET", Unset: true},
	}
	if len(got.Inputs.Env) != len(wantEnv) {
		t.Fatalf("env = %+v", got.Inputs.Env)
	}
	for i := range wantEnv {
		if got.Inputs.Env[i] != wantEnv[i] {
			t.Errorf("env[%d] = %+v, want %+v", i, got.Inputs.Env[i], wantEnv[i])
		}
	}
	if a := got.Inputs.Args; len(a) != 5 || a[3] != "--password" || a[4] != Mask {
		t.Errorf("args = %q", a)
	}
}

func TestExecFailure(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	code, rec, err := Exec(context.Background(), execOpts("sh", "-c", "echo oops >&2; exit 3"), log)
	if err != nil || code != 3 {
		t.Fatalf("Exec = %d, %v; want 3", code, err)
	}
	got := stored(t, log, rec.ID)
	if got.Status != Failed || got.ExitCode != 3 || string(got.Output) != "oops\n" {
		t.Errorf("record = %+v", got)
	}
}

func TestExecInterleavesStdoutAndStderr(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	opts := execOpts("sh", "-c", "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2; sleep 0.2; echo err2 >&2")
	stdout, stderr := newSyncBuffer(""), newSyncBuffer("")
	opts.Stdout, opts.Stderr = stdout, stderr
	_, rec, err := Exec(context.Background(), opts, log)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(stored(t, log, rec.ID).Output); got != "out1\nerr1\nout2\nerr2\n" {
		t.Errorf("output = %q", got)
	}
	if stdout.String() != "out1\nout2\n" || stderr.String() != "err1\nerr2\n" {
		t.Errorf("live: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestExecKilledBySignal(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	code, rec, err := Exec(context.Background(), execOpts("sh", "-c", "echo bye; kill -KILL $$"), log)
	if err != nil || code != 128+int(syscall.SIGKILL) {
		t.Fatalf("Exec = %d, %v; want %d", code, err, 128+int(syscall.SIGKILL))
	}
	if got := stored(t, log, rec.ID); got.Status != Interrupted || got.ExitCode != 137 || string(got.Output) != "bye\n" {
		t.Errorf("record = %+v", got)
	}
}

func TestExecForwardsSignals(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	opts := execOpts("sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	stdout := newSyncBuffer("ready")
	signals := make(chan os.Signal, 1)
	opts.Stdout, opts.Signals = stdout, signals
	go func() {
		<-stdout.seen
		signals <- syscall.SIGTERM
	}()
	code, rec, err := Exec(context.Background(), opts, log)
	if err != nil || code != 7 {
		t.Fatalf("Exec = %d, %v; want 7", code, err)
	}
	if got := stored(t, log, rec.ID); got.Status != Interrupted || string(got.Output) != "ready\ngot TERM\n" {
		t.Errorf("record = %+v", got)
	}
}

// TestExecCancelled: a cancelled context stops the child (TERM, then KILL
// for one that ignores TERM) and the end is still recorded.
func TestExecCancelled(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		wantCode int
	}{
		{"stops on TERM", "echo ready; exec sleep 30", 128 + int(syscall.SIGTERM)},
		{"ignores TERM", "trap '' TERM; echo ready; sleep 3; sleep 3", 128 + int(syscall.SIGKILL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := openLog(t, "sqlite")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := execOpts("sh", "-c", tt.script)
			stdout := newSyncBuffer("ready")
			opts.Stdout, opts.KillAfter = stdout, 300*time.Millisecond
			go func() {
				<-stdout.seen
				cancel()
			}()
			begin := time.Now()
			code, rec, err := Exec(ctx, opts, log)
			if err != nil || code != tt.wantCode {
				t.Fatalf("Exec = %d, %v; want %d", code, err, tt.wantCode)
			}
			if elapsed := time.Since(begin); elapsed > 2500*time.Millisecond {
				t.Errorf("took %v: the child was not stopped", elapsed)
			}
			if got := stored(t, log, rec.ID); got.Status != Interrupted || got.ExitCode != tt.wantCode {
				t.Errorf("record = %+v", got)
			}
		})
	}
}

func TestExecHugeOutputKeepsHeadAndTail(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	opts := execOpts("sh", "-c", "echo BEGIN; yes line | head -n 400000; echo END")
	opts.OutputCap = 64 << 10
	var live countingWriter
	opts.Stdout = &live
	_, rec, err := Exec(context.Background(), opts, log)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len("BEGIN\n") + 400000*len("line\n") + len("END\n"))
	got := stored(t, log, rec.ID)
	out := string(got.Output)
	if got.OutputBytes != total || live.n != total {
		t.Errorf("output bytes = %d, live %d, want %d", got.OutputBytes, live.n, total)
	}
	omitted := total - int64(opts.OutputCap)
	marker := "\n[... vigil: " + itoa(omitted) + " bytes of output omitted ...]\n"
	if !strings.HasPrefix(out, "BEGIN\nline\n") || !strings.HasSuffix(out, "line\nline\nEND\n") || !strings.Contains(out, marker) {
		t.Errorf("output head %q, tail %q, want marker %q", out[:20], out[len(out)-20:], marker)
	}
	if len(out) != opts.OutputCap+len(marker) {
		t.Errorf("kept %d bytes, want cap %d + marker", len(out), opts.OutputCap)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestExecBinaryOutput(t *testing.T) {
	for _, driver := range storeDrivers {
		t.Run(driver, func(t *testing.T) {
			log, _ := openLog(t, driver)
			data := make([]byte, 1<<16)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			path := filepath.Join(t.TempDir(), "blob.bin")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var live bytes.Buffer
			opts := execOpts("cat", path)
			opts.Stdout = &live
			_, rec, err := Exec(context.Background(), opts, log)
			if err != nil {
				t.Fatal(err)
			}
			if got := stored(t, log, rec.ID).Output; !bytes.Equal(got, data) || !bytes.Equal(live.Bytes(), data) {
				t.Errorf("stored %d bytes, live %d, want %d identical bytes", len(got), live.Len(), len(data))
			}
		})
	}
}

func TestExecRefusesWithoutRecord(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	tests := []struct {
		name    string
		purpose string
		broken  bool
		want    error
	}{
		{"no purpose", " ", false, ErrInvalid},
		{"store down", "fix", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := openLog(t, "sqlite")
			if tt.broken {
				log.db.Close() // the store's own handle
			}
			opts := execOpts("touch", marker)
			opts.Purpose = tt.purpose
			code, _, err := Exec(context.Background(), opts, log)
			if err == nil || code != -1 || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("Exec = %d, %v; want -1 and an error", code, err)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the command ran although its start was not recorded (%v)", err)
			}
		})
	}
}

func TestExecCommandNotFound(t *testing.T) {
	log, _ := openLog(t, "sqlite")
	code, rec, err := Exec(context.Background(), execOpts("./no-such-script.sh"), log)
	if err == nil || code != 127 {
		t.Fatalf("Exec = %d, %v; want 127 and an error", code, err)
	}
	got := stored(t, log, rec.ID)
	if got.Status != Failed || got.ExitCode != 127 || !strings.Contains(string(got.Output), "no-such-script.sh") {
		t.Errorf("record = %+v", got)
	}
}

func TestExecScriptSHA256(t *testing.T) {
	dir := t.TempDir()
	script := []byte("#!/bin/sh\necho hi\n")
	for _, name := range []string{"fix.sh", "bin/fix-in-path"} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, script, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sum := sha256.Sum256(script)
	want := hex.EncodeToString(sum[:])
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"interpreter and file", []string{"sh", "fix.sh"}, want},
		{"interpreter flags before file", []string{"sh", "-e", "-x", "fix.sh"}, want},
		{"file after a flag's value", []string{"bash", "-o", "pipefail", "fix.sh"}, want},
		{"path", []string{"./fix.sh"}, want},
		{"env wrapper", []string{"env", "A=1", "sh", "fix.sh"}, want},
		{"script found in PATH", []string{"fix-in-path"}, want},
		{"inline code", []string{"sh", "-c", "echo hi"}, ""},
		{"binary in PATH", []string{"true"}, ""},
	}
	log, _ := openLog(t, "sqlite")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := execOpts(tt.args...)
			opts.Dir = dir
			opts.Env = []string{"PATH=" + filepath.Join(dir, "bin") + ":" + os.Getenv("PATH")}
			code, rec, err := Exec(context.Background(), opts, log)
			if err != nil || code != 0 {
				t.Fatalf("Exec = %d, %v", code, err)
			}
			if rec.ScriptSHA256 != tt.want {
				t.Errorf("script_sha256 = %q, want %q", rec.ScriptSHA256, tt.want)
			}
		})
	}
}

// TestExecMasksSecretLookingEnvEverywhere: the value of a recorded variable
// whose name looks secret is masked in the inputs and wherever the command
// prints it, and nothing of it reaches the store.
func TestExecMasksSecretLookingEnvEverywhere(t *testing.T) {
	log, db := openLog(t, "sqlite")
	opts := execOpts("sh", "-c", `echo "using $DB_PASS, $SIGNING_KEY and $AWS_CREDS as $PGUSER"`)
	opts.Env = append(opts.Env, "DB_PASS=correct horse", "SIGNING_KEY=k-0a1b2c3d", "AWS_CREDS=AKIDcreds-99", "PGUSER=app")
	opts.EnvNames = []string{"DB_PASS", "SIGNING_KEY", "AWS_CREDS", "PGUSER"}
	_, rec, err := Exec(context.Background(), opts, log)
	if err != nil {
		t.Fatal(err)
	}
	got := stored(t, log, rec.ID)
	if want := "using [REDACTED], [REDACTED] and [REDACTED] as app\n"; string(got.Output) != want {
		t.Errorf("output = %q, want %q", got.Output, want)
	}
	for i, want := range []string{Mask, Mask, Mask, "app"} {
		if got.Inputs.Env[i].Value != want {
			t.Errorf("env %s = %q, want %q", got.Inputs.Env[i].Name, got.Inputs.Env[i].Value, want)
		}
	}
	for _, secret := range []string{"correct horse", "k-0a1b2c3d", "AKIDcreds-99"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM script_log WHERE instr(CAST(output AS TEXT) || inputs || script, ?) > 0", secret).Scan(&n); err != nil || n != 0 {
			t.Errorf("%q stored in %d entries (%v)", secret, n, err)
		}
	}
}
