package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// runConcurrency bounds how many checks `run --once` runs at a time.
const runConcurrency = 8

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "--once [-c FILE] [--check ID]... [--format text|json] [--no-store]",
		"Run the checks once and print their results. Exit 0 all pass or warn, 1 any fail, 2 any error or bad config.", stdout, stderr)
	once := fs.Bool("once", false, "run the checks once and exit (required)")
	path := configFlag(fs)
	format := fs.String("format", "text", "output `format`: text or json")
	var ids stringList
	fs.Var(&ids, "check", "run only the check with this `ID` (repeatable)")
	noStore := fs.Bool("no-store", false, "record nothing: the store, its results and incidents stay as they are (to try a config)")
	fs.BoolVar(noStore, "dry-run", false, "the same as --no-store")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if !*once {
		fmt.Fprintln(stderr, "vigil run: only --once is supported; use 'vigil serve' to run on schedule")
		return exitBroken
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "vigil run: --format must be text or json, not %q\n", *format)
		return exitBroken
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil run: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitBroken
	}
	selected, err := selectChecks(cfg, ids)
	if err != nil {
		fmt.Fprintf(stderr, "vigil run: %v\n", err)
		return exitBroken
	}
	if _, problems, err := loadRunbooks(cfg); err != nil {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	} else {
		for _, p := range problems {
			fmt.Fprintf(stderr, "warning: %s\n", p)
		}
	}

	var st *store.Store
	if !*noStore {
		st, err = store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
		if err != nil {
			fmt.Fprintf(stderr, "vigil run: %v\n", err)
			return exitBroken
		}
		defer st.Close()
	}
	src := newSources(cfg, cliLogger(stderr))
	defer src.Close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	warnPrivileged(cfg, sqlDatasources(cfg, selected), logger)

	results := runOnce(ctx, cfg, selected, src, st, logger)
	code := exitOK
	for _, r := range results {
		if st == nil {
			break
		}
		if _, err := st.RecordResult(ctx, r); err != nil {
			fmt.Fprintf(stderr, "vigil run: record result of %s: %v\n", r.Check, err)
			code = exitBroken
		}
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // details read "paid -> x", not "paid -\u003e x"
		if err := enc.Encode(results); err != nil {
			fmt.Fprintf(stderr, "vigil run: write json: %v\n", err)
			return exitBroken
		}
	default:
		printTable(stdout, results)
	}
	return max(code, exitCode(results))
}

// runOnce runs checks concurrently (bounded) and returns their results in
// the order given.
func runOnce(ctx context.Context, cfg *config.Config, selected []config.Check, src *sources, st *store.Store, logger *slog.Logger) []checks.Result {
	results := make([]checks.Result, len(selected))
	sem := make(chan struct{}, runConcurrency)
	var wg sync.WaitGroup
	for i, c := range selected {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runCtx, cancel := context.WithTimeout(ctx, c.Timeout)
			defer cancel()
			chk := build(runCtx, cfg, c, src, st, logger)
			results[i] = checks.Execute(runCtx, c.ID, c.Kind, chk, time.Now)
		}()
	}
	wg.Wait()
	return results
}

// exitCode maps results to the CLI contract: 2 any error, 1 any fail, else 0.
func exitCode(results []checks.Result) int {
	code := exitOK
	for _, r := range results {
		switch r.Status {
		case checks.Error:
			return exitBroken
		case checks.Fail:
			code = exitFail
		}
	}
	return code
}

// printTable writes one line per check, then the errors in full.
func printTable(w io.Writer, results []checks.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tVIOLATIONS\tDURATION\tFIRST KEYS")
	for _, r := range results {
		var keys []string
		for i, v := range r.Sample {
			if i == 3 {
				keys = append(keys, "…")
				break
			}
			keys = append(keys, v.Key)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Check, r.Status, r.Violations, r.Duration.Round(time.Millisecond), strings.Join(keys, ", "))
	}
	tw.Flush()
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.Check, r.Error)
		}
	}
}
