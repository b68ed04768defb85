package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/web"
)

func cmdRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("redrive", "--queue NAME [-c FILE] [--rate N] [--dry-run] [--datasource NAME] [--actor NAME]",
		"Move a dead-letter queue's messages back to their source queues with a rate-limited move task, printing progress; recorded in the script log.", stdout, stderr)
	path := configFlag(fs)
	queue := fs.String("queue", "", "dead-letter queue `NAME` or URL (required)")
	rate := fs.Int("rate", 10, fmt.Sprintf("messages moved per second (1..%d)", sqsdlq.MaxRedriveRate))
	dryRun := fs.Bool("dry-run", false, "report what would move without moving anything")
	dsName := fs.String("datasource", "", "sqs datasource to use (needed only when the config has several)")
	actor := fs.String("actor", "", "who is redriving (default: the OS user)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil redrive: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	if *queue == "" {
		fmt.Fprintln(stderr, "vigil redrive: --queue is required")
		return exitBroken
	}
	if *rate < 1 || *rate > sqsdlq.MaxRedriveRate {
		fmt.Fprintf(stderr, "vigil redrive: --rate must be between 1 and %d\n", sqsdlq.MaxRedriveRate)
		return exitBroken
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitBroken
	}
	name, err := sqsDatasource(cfg, *dsName)
	if err != nil {
		fmt.Fprintf(stderr, "vigil redrive: %v\n", err)
		return exitBroken
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		fmt.Fprintf(stderr, "vigil redrive: %v\n", err)
		return exitBroken
	}
	defer st.Close()
	src := newSources(cfg, cliLogger(stderr))
	defer src.Close()

	who := *actor
	if who == "" {
		who = osUser()
	}
	req := web.RedriveRequest{Datasource: name, Queue: *queue, Rate: *rate, DryRun: *dryRun, Actor: who}
	res, err := newRedriver(cfg, src, st).Redrive(ctx, req, func(p sqsdlq.Progress) {
		fmt.Fprintf(stdout, "%s %s: moved %d of %d\n", time.Now().Format("15:04:05"), p.Status, p.Moved, p.ToMove)
	})
	detail := redriveSummary(res, *rate, err)
	if aerr := st.Audit(context.WithoutCancel(ctx), store.AuditEntry{Actor: who, Action: "redrive", Target: *queue, Detail: detail, Remote: "cli"}); aerr != nil {
		fmt.Fprintf(stderr, "vigil redrive: record audit: %v\n", aerr)
		err = errors.Join(err, aerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil redrive: %v\n", err)
		return exitBroken
	}
	fmt.Fprintln(stdout, detail)
	return exitOK
}

// sqsDatasource picks the sqs datasource: the named one, or the only one.
func sqsDatasource(cfg *config.Config, name string) (string, error) {
	var names []string
	for n, ds := range cfg.Datasources {
		if ds.Driver == config.DriverSQS {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	switch {
	case name != "":
		if ds, ok := cfg.Datasources[name]; !ok || ds.Driver != config.DriverSQS {
			return "", fmt.Errorf("no sqs datasource %q (sqs datasources: %s)", name, strings.Join(names, ", "))
		}
		return name, nil
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0:
		return "", errors.New("the config has no sqs datasource")
	default:
		return "", fmt.Errorf("the config has several sqs datasources (%s): choose one with --datasource", strings.Join(names, ", "))
	}
}
