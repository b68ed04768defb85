package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"github.com/vigilhq/vigil/internal/store"
)

// cmdExec is `vigil exec`: it runs a command, streaming its output, and
// records the run in the script log: in vigil's store (-c), or on a vigil
// server through its API (--server with --token-file), where the actor is
// the token's user. It exits with the command's code, or exitBroken when it
// refuses to run the command (bad usage, bad config, a token file that
// cannot be used, or a store or server that cannot record the start).
func cmdExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("exec", "--purpose TEXT [--ticket T] [--target NAME] [--env NAME]... [-c FILE [--actor NAME] | --server URL --token-file F] -- CMD ARGS...",
		"Run CMD with live output and record it in the script log (locally, or on a vigil server with an operator token); exit with CMD's code.", stdout, stderr)
	purpose := fs.String("purpose", "", "why this script is being run (required)")
	ticket := fs.String("ticket", "", "the ticket or incident this run belongs to")
	target := fs.String("target", "", "the system the script acts on")
	actor := fs.String("actor", "", "who runs it (default: the OS user; with --server, always the token's user)")
	path := configFlag(fs)
	server := fs.String("server", "", "record the run on the vigil server at this URL instead of in a local store")
	tokenFile := fs.String("token-file", "", "file holding the API token (operator role) for --server")
	var envNames stringList
	fs.Var(&envNames, "env", "record this environment variable's value, redacted, in the run's inputs (repeatable)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if strings.TrimSpace(*purpose) == "" {
		fmt.Fprintln(stderr, "vigil exec: --purpose is required: say why this script is being run")
		return exitBroken
	}
	argv := fs.Args()
	if len(argv) == 0 || argv[0] == "" {
		fmt.Fprintln(stderr, "vigil exec: no command given (vigil exec --purpose TEXT -- CMD ARGS...)")
		return exitBroken
	}
	if msg := remoteFlagsProblem(*server, *tokenFile, *path, *actor); msg != "" {
		fmt.Fprintln(stderr, "vigil exec: "+msg)
		return exitBroken
	}
	if *actor == "" {
		*actor = osUser()
	}

	var (
		log      scriptlog.Recorder
		redactor *scriptlog.Redactor
	)
	if *server != "" {
		remote, token, err := openRemoteLog(*server, *tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "vigil exec: %v\n", err)
			fmt.Fprintf(stderr, "vigil exec: not running %s: it could not be recorded\n", argv[0])
			return exitBroken
		}
		if remote.insecure() {
			fmt.Fprintf(stderr, "vigil exec: warning: %s is plain http: the token crosses the network unencrypted\n", remote)
		}
		// The token must not reach the record, even if the script prints it.
		log, redactor, *actor = remote, scriptlog.NewRedactor(nil, []string{token}), ""
	} else {
		local, cfg, closeLog, ok := openScriptLog(ctx, *path, "vigil exec", stderr)
		if !ok {
			fmt.Fprintf(stderr, "vigil exec: not running %s: it could not be recorded\n", argv[0])
			return exitBroken
		}
		defer closeLog()
		log, redactor = local, scriptlog.NewRedactor(nil, cfg.SecretValues())
	}

	// Signals sent to vigil go to the child, which decides how to stop; the
	// run is then recorded as interrupted. main's context is cancelled by
	// the same signals, so the child is supervised without it: it would
	// otherwise get a second signal and be killed after a grace period.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	// A closed stdout (vigil exec ... | head) must not kill vigil before it
	// records the end: with SIGPIPE notified, writes fail with EPIPE
	// instead, and the child's output is still captured. (Notify, unlike
	// Ignore, is not inherited by the child.)
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "vigil exec: not running %s: interrupted before it started\n", argv[0])
		return exitBroken
	}
	opts := scriptlog.ExecOptions{
		Purpose:  *purpose,
		Ticket:   *ticket,
		Target:   *target,
		Actor:    *actor,
		Args:     argv,
		EnvNames: envNames,
		Stdin:    os.Stdin,
		Stdout:   stdout,
		Stderr:   stderr,
		Redactor: redactor,
		Signals:  signals,
	}
	recorder := &finishWatch{Recorder: log}
	code, rec, err := scriptlog.Exec(context.WithoutCancel(ctx), opts, recorder)
	if err != nil {
		fmt.Fprintf(stderr, "vigil exec: %v\n", err)
		if rec.ID == 0 { // refused: nothing ran
			return exitBroken
		}
	}
	if recorder.finished {
		fmt.Fprintf(stderr, "vigil exec: recorded script run %d: %s, exit code %d, %s\n",
			rec.ID, rec.Status, rec.ExitCode, rec.Duration.Round(time.Millisecond))
	}
	return code
}

// remoteFlagsProblem says what is wrong with the combination of --server,
// --token-file, -c and --actor, or returns "".
func remoteFlagsProblem(server, tokenFile, configPath, actor string) string {
	switch {
	case server == "" && tokenFile != "":
		return "--token-file needs --server"
	case server == "":
		return ""
	case configPath != "":
		return "--server and -c are mutually exclusive: the run is recorded either on a server or in a local store"
	case tokenFile == "":
		return "--server needs --token-file: the API token (operator role) to record the run with"
	case actor != "":
		return "--actor cannot be used with --server: the actor is the token's user"
	}
	return ""
}

// openRemoteLog reads the token file and returns the recorder for server
// and the token (to redact it).
func openRemoteLog(server, tokenFile string) (*remoteLog, string, error) {
	token, err := readTokenFile(tokenFile)
	if err != nil {
		return nil, "", err
	}
	remote, err := newRemoteLog(server, token)
	if err != nil {
		return nil, "", err
	}
	return remote, token, nil
}

// finishWatch notes whether the end of the run was recorded.
type finishWatch struct {
	scriptlog.Recorder
	finished bool
}

func (w *finishWatch) Finish(ctx context.Context, rec scriptlog.Record) (scriptlog.Record, error) {
	out, err := w.Recorder.Finish(ctx, rec)
	w.finished = err == nil
	return out, err
}

// openScriptLog resolves the config path (-c, else $VIGIL_CONFIG, else
// ./vigil.yaml), loads it, opens the store and returns its script log
// (keyed with scriptlog.key_file when set), the config, and a function that
// closes the store. It prints every problem to stderr, prefixed with who,
// and returns false on failure.
func openScriptLog(ctx context.Context, path, who string, stderr io.Writer) (*scriptlog.SQL, *config.Config, func(), bool) {
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return nil, nil, nil, false
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return nil, nil, nil, false
	}
	log, err := scriptlog.NewSQL(st.DB(), st.Driver(), cfg.Scriptlog.Key)
	if err != nil {
		st.Close()
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return nil, nil, nil, false
	}
	return log, cfg, func() { st.Close() }, true
}

// configPath returns the config file to use: explicit when given, else
// $VIGIL_CONFIG when set, else ./vigil.yaml when it exists.
func configPath(explicit string, lookupEnv func(string) (string, bool), stat func(string) (os.FileInfo, error)) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p, ok := lookupEnv("VIGIL_CONFIG"); ok && p != "" {
		return p, nil
	}
	if _, err := stat("vigil.yaml"); err == nil {
		return "vigil.yaml", nil
	}
	return "", errors.New("no config: pass -c FILE, set VIGIL_CONFIG, or run where ./vigil.yaml is")
}

// osUser names the user running vigil: the login name, else $USER, else
// the numeric uid.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, name := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(name); v != "" {
			return v
		}
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}
