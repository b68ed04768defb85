package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"github.com/vigilhq/vigil/internal/store"
)

// cmdExec is `vigil exec`: it runs a command, streaming its output, and
// records the run in the script log of vigil's store. It exits with the
// command's code, or exitBroken when it refuses to run the command (bad
// usage, bad config, or a store that cannot record the start).
func cmdExec(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vigil exec --purpose TEXT [--ticket T] [--target NAME] [--actor NAME] [--env NAME]... [-c FILE] -- CMD ARGS...")
		fs.PrintDefaults()
	}
	purpose := fs.String("purpose", "", "why this script is being run (required)")
	ticket := fs.String("ticket", "", "the ticket or incident this run belongs to")
	target := fs.String("target", "", "the system the script acts on")
	actor := fs.String("actor", "", "who runs it (default: the OS user)")
	path := fs.String("c", "", "config file (default: $VIGIL_CONFIG, else ./vigil.yaml)")
	var envNames stringList
	fs.Var(&envNames, "env", "record this environment variable's value, redacted, in the run's inputs (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitBroken
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
	if *actor == "" {
		*actor = osUser()
	}

	log, redactor, closeLog, ok := openScriptLog(ctx, *path, "vigil exec", stderr)
	if !ok {
		fmt.Fprintf(stderr, "vigil exec: not running %s: it could not be recorded\n", argv[0])
		return exitBroken
	}
	defer closeLog()

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
	code, rec, err := scriptlog.Exec(context.WithoutCancel(ctx), opts, log)
	if err != nil {
		fmt.Fprintf(stderr, "vigil exec: %v\n", err)
		if rec.ID == 0 { // refused: nothing ran
			return exitBroken
		}
	}
	if rec.FinishSeq != 0 {
		fmt.Fprintf(stderr, "vigil exec: recorded script run %d: %s, exit code %d, %s\n",
			rec.ID, rec.Status, rec.ExitCode, rec.Duration.Round(time.Millisecond))
	}
	return code
}

// openScriptLog resolves the config path (-c, else $VIGIL_CONFIG, else
// ./vigil.yaml), loads it, opens the store and returns its script log with a
// Redactor that masks the config's secrets, and a function that closes the
// store. It prints every problem to stderr, prefixed with who, and returns
// false on failure.
func openScriptLog(ctx context.Context, path, who string, stderr io.Writer) (*scriptlog.SQL, *scriptlog.Redactor, func(), bool) {
	path, err := configPath(path, os.LookupEnv, os.Stat)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return nil, nil, nil, false
	}
	cfg, ok := loadConfig(path, stderr)
	if !ok {
		return nil, nil, nil, false
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return nil, nil, nil, false
	}
	log, err := scriptlog.NewSQL(st.DB(), st.Driver())
	if err != nil {
		st.Close()
		fmt.Fprintf(stderr, "%s: %v\n", who, err)
		return nil, nil, nil, false
	}
	return log, scriptlog.NewRedactor(nil, configSecrets(cfg)), func() { st.Close() }, true
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

// configSecrets returns the secret values a config holds, for the script
// log to mask wherever they appear: the DSNs of SQL datasources and of a
// PostgreSQL store (whole, and their passwords), the Sentry DSN and the
// Slack webhook URL. SQLite DSNs are file paths, not secrets.
func configSecrets(cfg *config.Config) []string {
	var out []string
	dsn := func(driver, v string) {
		if v == "" || driver == config.DriverSQLite {
			return
		}
		out = append(out, v)
		if p := dsnPassword(driver, v); p != "" {
			out = append(out, p)
		}
	}
	if cfg.Store.Driver == config.DriverPostgres {
		dsn(cfg.Store.Driver, cfg.Store.DSN)
	}
	for _, ds := range cfg.Datasources {
		if ds.IsSQL() {
			dsn(ds.Driver, ds.DSN)
		}
	}
	if v := cfg.Sinks.Sentry.DSN; v != "" {
		out = append(out, v)
		if u, err := url.Parse(v); err == nil && u.User != nil {
			out = append(out, u.User.Username()) // the Sentry key
		}
	}
	if v := cfg.Sinks.Slack.WebhookURL; v != "" {
		out = append(out, v)
	}
	return out
}

// dsnPassword returns the password in a DSN of driver, or "".
func dsnPassword(driver, dsn string) string {
	switch driver {
	case config.DriverMySQL:
		if c, err := mysql.ParseDSN(dsn); err == nil {
			return c.Passwd
		}
	case config.DriverPostgres:
		if strings.Contains(dsn, "://") {
			if u, err := url.Parse(dsn); err == nil && u.User != nil {
				p, _ := u.User.Password()
				return p
			}
			return ""
		}
		for _, field := range strings.Fields(dsn) { // key=value form
			if v, ok := strings.CutPrefix(field, "password="); ok {
				return strings.Trim(v, "'")
			}
		}
	}
	return ""
}
