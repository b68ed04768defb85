package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/notify/datadog"
)

// connectTimeout bounds how long validate --connect waits for one
// datasource.
const connectTimeout = 15 * time.Second

// cmdValidate checks the config, its rules files and its runbooks in one
// pass, printing every problem as file:line; a check without a runbook is
// a warning (as in run and serve), anything else fails with exitBroken.
// With --connect it also reaches every datasource.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[-c FILE] [--connect]", "Check the configuration, its rules files and its runbooks; print every problem as file:line.", stdout, stderr)
	path := configFlag(fs)
	connect := fs.Bool("connect", false, "also connect to each datasource: report a wrong DSN, a role that may do more than read, a bucket that cannot be listed, and endorsements when keys that match nothing")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil validate: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	file, err := configPath(*path, os.LookupEnv, os.Stat)
	if err != nil {
		fmt.Fprintf(stderr, "vigil validate: %v\n", err)
		return exitBroken
	}
	cfg, err := config.LoadPartial(file, kinds())
	failed := err != nil
	if err != nil {
		fmt.Fprintln(stderr, strings.TrimRight(err.Error(), "\n"))
	}
	runbooks := 0
	if cfg.RunbooksDir != "" { // the config was read far enough to name its runbooks
		set, problems, err := loadRunbooks(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "vigil validate: %v\n", err)
			failed = true
		}
		runbooks = len(set.Runbooks)
		for _, p := range problems {
			if p.Warning {
				fmt.Fprintf(stderr, "warning: %s\n", p)
				continue
			}
			fmt.Fprintln(stderr, p)
			failed = true
		}
	}
	if !failed {
		for _, w := range datadog.ConfigWarnings(cfg) {
			fmt.Fprintln(stderr, w)
		}
	}
	if *connect && !failed {
		logger := cliLogger(stderr)
		for _, p := range connectProblems(ctx, cfg, logger) {
			fmt.Fprintln(stderr, p)
			failed = true
		}
	}
	if failed {
		return exitBroken
	}
	fmt.Fprintf(stdout, "%s: ok (%d checks, %d runbooks)\n", cfg.Path, len(cfg.Checks), runbooks)
	return exitOK
}

// connectProblems connects to every datasource (SQL: connect and inspect
// the role; SQS: list one queue) and probes each check whose kind can
// check its configuration against the data (checks.Prober), on the
// datasources that answered. Each problem reads "file:line: message".
func connectProblems(ctx context.Context, cfg *config.Config, logger *slog.Logger) []string {
	src := newSources(cfg, logger)
	defer src.Close()
	names := make([]string, 0, len(cfg.Datasources))
	for name := range cfg.Datasources {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return cfg.Datasources[names[i]].Line < cfg.Datasources[names[j]].Line })
	warnPrivileged(cfg, names, logger)
	var out []string
	up := map[string]bool{}
	for _, name := range names {
		ds := cfg.Datasources[name]
		if err := reach(ctx, src, ds); err != nil {
			out = append(out, fmt.Sprintf("%s:%d: %v", cfg.Path, ds.Line, err))
			continue
		}
		up[name] = true
	}
	for _, c := range cfg.Checks {
		prober, ok := c.Spec.(checks.Prober)
		if !ok || !up[c.Datasource] {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, c.Timeout)
		deps, err := checkDeps(pctx, cfg, c, src, nil, nil)
		var ps []checks.Problem
		if err != nil {
			ps = []checks.Problem{{Msg: err.Error()}}
		} else {
			ps = prober.Probe(pctx, deps)
		}
		cancel()
		for _, p := range ps {
			file, line := p.File, p.Line
			if file == "" {
				file, line = cfg.Path, c.Line
			}
			out = append(out, fmt.Sprintf("%s:%d: check %q: %s", file, line, c.ID, p.Msg))
		}
	}
	return out
}

// reach connects to one datasource within connectTimeout.
func reach(ctx context.Context, src *sources, ds config.Datasource) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if ds.Driver == config.DriverSQS {
		q, err := src.sqs(ctx, ds.Name)
		if err != nil {
			return err
		}
		if _, err := q.Client().ListQueues(ctx, &sqs.ListQueuesInput{MaxResults: aws.Int32(1)}); err != nil {
			return fmt.Errorf("datasource %s: list queues: %w", ds.Name, err)
		}
		return nil
	}
	if ds.Driver == config.DriverS3 {
		// S3 has no datasource-wide call a list-only role may make: each
		// s3_freshness check probes its own bucket.
		_, err := src.s3(ctx, ds.Name)
		return err
	}
	db, err := src.sql(ds.Name)
	if err != nil {
		return err
	}
	if err := db.Inspect(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w (no answer within %s)", err, connectTimeout)
		}
		return err
	}
	return nil
}
