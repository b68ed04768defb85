package scriptlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DefaultOutputCap is how much output a record keeps when ExecOptions does
// not say.
const DefaultOutputCap = 1 << 20

// ExecOptions describe one command to run and record.
type ExecOptions struct {
	Purpose string // required
	Ticket  string
	Target  string
	Actor   string

	Args     []string // the command and its arguments; required
	Dir      string   // working directory; empty for the current one
	Env      []string // the child's environment as NAME=value; nil inherits this process's
	EnvNames []string // variables whose (redacted) values go into the record's inputs

	Stdin          io.Reader // nil reads from the null device
	Stdout, Stderr io.Writer // the child's output is streamed here live, unredacted; nil discards

	// OutputCap bounds the recorded output (default DefaultOutputCap): the
	// first and last halves are kept, with a marker saying how much was left
	// out between them.
	OutputCap int
	Redactor  *Redactor // nil uses the built-in rules

	// Signals are forwarded to the child as they arrive (the CLI passes
	// SIGINT and SIGTERM from signal.Notify); the run then counts as
	// interrupted.
	Signals <-chan os.Signal
	// When ctx is done the child gets SIGTERM, then SIGKILL after KillAfter
	// (default 10s); the run counts as interrupted. KillAfter also bounds
	// how long Exec waits for output after the child exits (a grandchild
	// may hold its pipes open).
	KillAfter time.Duration

	Now func() time.Time // default time.Now
}

// Exec runs opts.Args, streaming its stdout and stderr live to opts.Stdout
// and opts.Stderr, and records the run in log: the start before the command
// runs, the end (exit code, duration, status, capped and redacted output)
// after, even when it was interrupted.
//
// It refuses to run (exit code -1) without a purpose or a command, or when
// the start cannot be recorded: an unlogged script is what the log exists to
// prevent. When the command cannot be started, its end is recorded as failed
// with exit code 127 (not found) or 126, as a shell would. The exit code is
// the child's, or 128+n when signal n killed it. A non-nil error with a run
// record means the command ran but its end could not be recorded.
func Exec(ctx context.Context, opts ExecOptions, log Recorder) (exitCode int, rec Record, err error) {
	if strings.TrimSpace(opts.Purpose) == "" {
		return -1, Record{}, fmt.Errorf("scriptlog: exec: %w: a purpose is required", ErrInvalid)
	}
	if len(opts.Args) == 0 || opts.Args[0] == "" {
		return -1, Record{}, fmt.Errorf("scriptlog: exec: %w: no command", ErrInvalid)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	red, args, inputs := prepareRedaction(opts, env)

	rec = Record{
		Script:       shellJoin(args),
		ScriptSHA256: scriptSHA256(opts.Args, opts.Dir, env),
		Actor:        opts.Actor,
		Purpose:      red.String(opts.Purpose),
		Ticket:       red.String(opts.Ticket),
		Target:       red.String(opts.Target),
		Inputs:       inputs,
	}
	started := now()
	rec.StartedAt = started
	rec, err = log.Start(ctx, rec)
	if err != nil {
		return -1, Record{}, fmt.Errorf("scriptlog: exec: not running %s, its start could not be recorded: %w", args[0], err)
	}

	out := newCapture(opts.OutputCap)
	cmd := exec.Command(opts.Args[0], opts.Args[1:]...)
	if !strings.ContainsRune(opts.Args[0], '/') {
		// Find the command in the child's PATH, not this process's.
		if path, err := lookPath(opts.Args[0], env); err == nil {
			cmd.Path, cmd.Err = path, nil
		}
	}
	cmd.Dir, cmd.Env, cmd.Stdin = opts.Dir, env, opts.Stdin
	cmd.Stdout, cmd.Stderr = out.stream(opts.Stdout), out.stream(opts.Stderr)
	killAfter := opts.KillAfter
	if killAfter <= 0 {
		killAfter = 10 * time.Second
	}
	cmd.WaitDelay = killAfter

	var interrupted bool
	runErr := cmd.Start()
	if runErr == nil {
		interrupted, runErr = supervise(ctx, cmd, opts.Signals, killAfter)
	}
	ended := now()

	rec.EndedAt, rec.Duration = ended, ended.Sub(started)
	rec.ExitCode, rec.Status = outcome(cmd, runErr, interrupted)
	if cmd.Process == nil {
		fmt.Fprintf(out, "vigil: cannot run %s: %v\n", args[0], runErr)
	}
	rec.Output, rec.OutputBytes = out.result(red)

	// The end is recorded even when ctx was cancelled: that is when it
	// matters most.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	final, ferr := log.Finish(fctx, rec)
	switch {
	case ferr != nil:
		err = fmt.Errorf("scriptlog: exec: record the end of run %d: %w", rec.ID, ferr)
	case cmd.Process == nil:
		rec, err = final, fmt.Errorf("scriptlog: exec: start %s: %w", args[0], runErr)
	default:
		rec = final
	}
	return rec.ExitCode, rec, err
}

// prepareRedaction returns the redactor for this run (which also masks the
// secret values of its arguments and environment wherever they appear in
// the output), the redacted argv, and the inputs to record.
func prepareRedaction(opts ExecOptions, env []string) (*Redactor, []string, Inputs) {
	red := opts.Redactor
	args, secrets := red.args(opts.Args)
	values := map[string]string{}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		values[name] = value
		if red.SecretName(name) {
			secrets = append(secrets, value)
		}
	}
	for _, name := range opts.EnvNames {
		if red.SecretEnvName(name) {
			secrets = append(secrets, values[name])
		}
	}
	red = red.WithValues(secrets...)
	in := Inputs{Args: args[1:], Env: []EnvVar{}}
	for _, name := range opts.EnvNames {
		v, ok := values[name]
		in.Env = append(in.Env, EnvVar{Name: name, Value: red.Env(name, v), Unset: !ok})
	}
	return red, args, in
}

// supervise waits for the child, forwarding signals to it and stopping it
// when ctx is done; it reports whether the run was interrupted and Wait's
// error.
func supervise(ctx context.Context, cmd *exec.Cmd, signals <-chan os.Signal, killAfter time.Duration) (bool, error) {
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	interrupted := false
	done := ctx.Done()
	var kill <-chan time.Time
	for {
		select {
		case err := <-waited:
			return interrupted, err
		case sig := <-signals:
			interrupted = true
			_ = cmd.Process.Signal(sig) // fails only once it has exited
		case <-done:
			interrupted, done = true, nil
			_ = cmd.Process.Signal(syscall.SIGTERM)
			kill = time.After(killAfter)
		case <-kill:
			_ = cmd.Process.Kill()
		}
	}
}

// outcome turns how the command ended into an exit code and a status.
func outcome(cmd *exec.Cmd, runErr error, interrupted bool) (int, Status) {
	if cmd.Process == nil { // never started
		if errors.Is(runErr, fs.ErrNotExist) || errors.Is(runErr, exec.ErrNotFound) {
			return 127, Failed
		}
		return 126, Failed
	}
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), Interrupted
	}
	switch {
	case interrupted:
		return code, Interrupted
	case code == 0 && runErr == nil:
		return 0, Success
	case code == 0:
		return 0, Failed // exited 0 but its output could not be read (e.g. WaitDelay expired)
	}
	return code, Failed
}

// scriptSHA256 hashes the script file the command names, or returns "":
//   - after an interpreter (sh, bash, python, perl, node, psql -f, ...), the
//     first argument that names a regular file, unless code is given inline
//     (sh -c, python -m, perl -e, ...) first;
//   - a command given as a path (./fix.sh, /opt/tool): that file;
//   - a command found in PATH: that file, when it is a script (#!).
func scriptSHA256(args []string, dir string, env []string) string {
	path := scriptFile(args, dir, env)
	if path == "" {
		return ""
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// interpreters maps an interpreter to its flags that take code inline
// (after which the command names no script file).
var interpreters = []struct {
	name   *regexp.Regexp
	inline []string
}{
	{regexp.MustCompile(`^(?:sh|bash|dash|zsh|ksh|mksh|fish|psql)$`), []string{"-c", "--command"}},
	{regexp.MustCompile(`^(?:python|pypy)[0-9.]*$`), []string{"-c", "-m"}},
	{regexp.MustCompile(`^(?:perl|ruby|node|nodejs|lua|Rscript|osascript|mysql|mariadb)$`), []string{"-e", "--eval", "--execute"}},
	{regexp.MustCompile(`^(?:deno|bun)$`), []string{"eval", "-e", "--eval"}},
	{regexp.MustCompile(`^php[0-9.]*$`), []string{"-r"}},
}

func inlineFlags(command string) ([]string, bool) {
	base := filepath.Base(command)
	for _, in := range interpreters {
		if in.name.MatchString(base) {
			return in.inline, true
		}
	}
	return nil, false
}

func scriptFile(args []string, dir string, env []string) string {
	for len(args) > 1 && filepath.Base(args[0]) == "env" { // env [-flags] [NAME=value]... cmd
		args = args[1:]
		for len(args) > 1 && (strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "=")) {
			args = args[1:]
		}
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) || dir == "" {
			return p
		}
		return filepath.Join(dir, p)
	}
	regular := func(p string) bool {
		st, err := os.Stat(abs(p))
		return err == nil && st.Mode().IsRegular()
	}
	if inline, ok := inlineFlags(args[0]); ok {
		for i := 1; i < len(args); i++ {
			a := args[i]
			switch {
			case slices.Contains(inline, a):
				return "" // inline code or a module
			case a == "-f" || a == "--file":
				if i+1 < len(args) && regular(args[i+1]) {
					return abs(args[i+1])
				}
				return ""
			case strings.HasPrefix(a, "--file="):
				if p := strings.TrimPrefix(a, "--file="); regular(p) {
					return abs(p)
				}
				return ""
			case strings.HasPrefix(a, "-"):
			case regular(a):
				return abs(a)
			}
		}
		return ""
	}
	if strings.ContainsRune(args[0], '/') {
		if regular(args[0]) {
			return abs(args[0])
		}
		return ""
	}
	path, err := lookPath(args[0], env)
	if err != nil || !isScript(path) {
		return ""
	}
	return path
}

// lookPath finds file in the PATH of env (the child's environment).
func lookPath(file string, env []string) (string, error) {
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				if !filepath.IsAbs(d) {
					continue // as exec.LookPath, never resolve relative to the working directory
				}
				candidate := filepath.Join(d, file)
				if st, err := os.Stat(candidate); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
					return candidate, nil
				}
			}
			return "", exec.ErrNotFound
		}
	}
	return "", exec.ErrNotFound
}

func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	return n == 2 && string(head) == "#!"
}

// shellJoin writes args as a POSIX shell would need them typed.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./\[\]-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
