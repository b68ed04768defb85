package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilhq/vigil/internal/scriptlog"
)

// cmdScriptlog is `vigil scriptlog verify|head|list|show`: it reads the
// script log of vigil's store.
func cmdScriptlog(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	subs := []struct {
		name, summary string
		run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	}{
		{"verify", "walk the hash chain; exit 0 intact, 1 broken (names the first bad record)", scriptlogVerify},
		{"head", "print the chain's head (sequence number and hash) as an anchor line", scriptlogHead},
		{"list", "search the script runs, newest first", scriptlogList},
		{"show", "print one script run with its output", scriptlogShow},
	}
	w, code := stderr, exitBroken
	switch {
	case len(args) > 0 && isHelp(args[0]):
		w, code = stdout, exitOK
	case len(args) > 0:
		for _, s := range subs {
			if s.name == args[0] {
				return s.run(ctx, args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "vigil scriptlog: unknown subcommand %q\n", args[0])
	}
	fmt.Fprintln(w, "usage: vigil scriptlog verify|head|list|show [-c FILE] [flags] [ID]")
	for _, s := range subs {
		fmt.Fprintf(w, "  %-7s %s\n", s.name, s.summary)
	}
	fmt.Fprintln(w, "Run 'vigil scriptlog <subcommand> -h' for its flags.")
	return code
}

// parseScriptlogFlags parses flags that may come before or after the
// positional arguments, as parseFlags does for help and errors.
func parseScriptlogFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (rest []string, code int, ok bool) {
	err := parseQuiet(fs, func() error {
		var err error
		rest, err = parseInterspersed(fs, args)
		return err
	})
	code, ok = afterParse(fs, err, stdout)
	return rest, code, ok
}

// parseInterspersed parses flags that may come before or after the
// positional arguments (as in `show 12 -c vigil.yaml`) and returns the
// positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseFlagsOnly parses the flags of a subcommand that takes no positional
// argument, as parseScriptlogFlags does, saying what is wrong on stderr.
func parseFlagsOnly(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	rest, code, ok := parseScriptlogFlags(fs, args, stdout)
	if !ok {
		return code, false
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), rest[0])
		return exitBroken, false
	}
	return exitOK, true
}

func scriptlogVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("scriptlog verify", "[-c FILE] [--key FILE]... [--anchor FILE]...",
		"Walk the script log's hash chain with the config's key (and older keys given with --key) and check the anchored heads: exit 0 intact, 1 broken (naming the first bad record).", stdout, stderr)
	path := configFlag(fs)
	var keyFiles, anchorFiles []string
	fs.Func("key", "also accept a part of the chain keyed with the key in `FILE` (a key used before a rotation; repeatable)", func(v string) error {
		keyFiles = append(keyFiles, v)
		return nil
	})
	fs.Func("anchor", "check the heads anchored in `FILE` (repeatable; default: scriptlog.anchor_file)", func(v string) error {
		anchorFiles = append(anchorFiles, v)
		return nil
	})
	if code, ok := parseFlagsOnly(fs, args, stdout, stderr); !ok {
		return code
	}
	log, cfg, closeLog, ok := openScriptLog(ctx, *path, "vigil scriptlog verify", stderr)
	if !ok {
		return exitBroken
	}
	defer closeLog()
	var opts scriptlog.VerifyOptions
	if k := cfg.Scriptlog.Key; !k.IsZero() {
		opts.Keys = append(opts.Keys, k)
		fmt.Fprintf(stdout, "key: %s (scriptlog.key_file %s)\n", k.ID(), cfg.Scriptlog.KeyFile)
	}
	for _, f := range keyFiles {
		k, err := scriptlog.ReadKeyFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "vigil scriptlog verify: --key: %v\n", err)
			return exitBroken
		}
		opts.Keys = append(opts.Keys, k)
		fmt.Fprintf(stdout, "key: %s (--key %s)\n", k.ID(), f)
	}
	if len(opts.Keys) == 0 {
		fmt.Fprintln(stdout, "unkeyed: detects accidents, not a store writer (set scriptlog.key_file to key the chain)")
	}
	if len(anchorFiles) == 0 && cfg.Scriptlog.AnchorFile != "" {
		if _, err := os.Stat(cfg.Scriptlog.AnchorFile); err == nil {
			anchorFiles = append(anchorFiles, cfg.Scriptlog.AnchorFile)
		} else {
			fmt.Fprintf(stdout, "anchors: %s does not exist yet (vigil serve writes it)\n", cfg.Scriptlog.AnchorFile)
		}
	}
	for _, f := range anchorFiles {
		as, err := scriptlog.ReadAnchorFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "vigil scriptlog verify: %v\n", err)
			return exitBroken
		}
		opts.Anchors = append(opts.Anchors, as...)
	}
	rep, err := scriptlog.Verify(ctx, log, opts)
	if err != nil {
		fmt.Fprintf(stderr, "vigil scriptlog verify: %v\n", err)
		return exitBroken
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "script log broken at %s\n", rep.Broken)
		return exitFail
	}
	fmt.Fprintf(stdout, "script log intact: %d runs in %d entries (%d checkpoints)\n", rep.Runs, rep.Entries, rep.Checkpoints)
	for i, p := range rep.Parts {
		switch {
		case p.KeyID != "":
			fmt.Fprintf(stdout, "  entries %d to %d: keyed with key %s\n", p.First, p.Last, p.KeyID)
		case i+1 < len(rep.Parts):
			fmt.Fprintf(stdout, "  entries %d to %d: unkeyed, sealed by the keyed entry %d\n", p.First, p.Last, rep.Parts[i+1].First)
		default:
			fmt.Fprintf(stdout, "  entries %d to %d: unkeyed\n", p.First, p.Last)
		}
	}
	if rep.LegacyCheckpoints > 0 {
		fmt.Fprintf(stdout, "  %d checkpoints from before checkpoints listed the runs they removed, accepted as sealed\n", rep.LegacyCheckpoints)
	}
	if rep.Entries > 0 {
		fmt.Fprintf(stdout, "head: entry %d, hash %s\n", rep.HeadSeq, rep.Head)
	}
	if len(anchorFiles) == 0 {
		fmt.Fprintln(stdout, "anchors: none checked: removing the newest entries is not detected (set scriptlog.anchor_file, or pass --anchor FILE)")
	} else {
		fmt.Fprintf(stdout, "anchors: %d anchored heads from %s are all in the chain\n", rep.Anchors, strings.Join(anchorFiles, ", "))
	}
	return exitOK
}

// scriptlogHead prints the chain's head as an anchor line, so that it can
// be kept outside the store (vigil scriptlog head >> anchors.log).
func scriptlogHead(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("scriptlog head", "[-c FILE]", "Print the chain's head as an anchor line, to keep outside the store.", stdout, stderr)
	path := configFlag(fs)
	if code, ok := parseFlagsOnly(fs, args, stdout, stderr); !ok {
		return code
	}
	log, _, closeLog, ok := openScriptLog(ctx, *path, "vigil scriptlog head", stderr)
	if !ok {
		return exitBroken
	}
	defer closeLog()
	head, ok, err := log.Head(ctx, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "vigil scriptlog head: %v\n", err)
		return exitBroken
	}
	if !ok {
		fmt.Fprintln(stderr, "vigil scriptlog head: the script log is empty")
		return exitOK
	}
	fmt.Fprintln(stdout, head)
	return exitOK
}

func scriptlogList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("scriptlog list", "[-c FILE] [--actor A] [--purpose TEXT] [--ticket T] [--target NAME] [--text TEXT] [--status S] [--since T] [--until T] [--limit N] [--format text|json]",
		"Search the script runs, newest first.", stdout, stderr)
	path := configFlag(fs)
	var q scriptlog.Query
	fs.StringVar(&q.Actor, "actor", "", "only runs by this actor (exact)")
	fs.StringVar(&q.Purpose, "purpose", "", "only runs whose purpose contains this text (any case)")
	fs.StringVar(&q.Ticket, "ticket", "", "only runs for this ticket (exact)")
	fs.StringVar(&q.Target, "target", "", "only runs against this target (exact)")
	fs.StringVar(&q.Text, "text", "", "only runs whose command line or inputs contain this text (any case)")
	status := fs.String("status", "", "only runs with this status: running, success, failed or interrupted")
	since := fs.String("since", "", "only runs started at or after: RFC 3339, YYYY-MM-DD[ HH:MM:SS] (UTC), or a duration ago (36h, 7d)")
	until := fs.String("until", "", "only runs started before this time (same forms; a bare date includes that whole day)")
	fs.IntVar(&q.Limit, "limit", scriptlog.DefaultLimit, fmt.Sprintf("at most this many runs (max %d)", scriptlog.MaxLimit))
	format := fs.String("format", "text", "output format: text or json")
	rest, code, ok := parseScriptlogFlags(fs, args, stdout)
	if !ok {
		return code
	}
	var problems []string
	if len(rest) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected argument %q", rest[0]))
	}
	if *format != "text" && *format != "json" {
		problems = append(problems, fmt.Sprintf("--format must be text or json, not %q", *format))
	}
	switch st := scriptlog.Status(*status); {
	case st == "" || st == scriptlog.Running || st.Ended():
		q.Status = st
	default:
		problems = append(problems, fmt.Sprintf("--status must be running, success, failed or interrupted, not %q", *status))
	}
	if q.Limit < 1 || q.Limit > scriptlog.MaxLimit {
		problems = append(problems, fmt.Sprintf("--limit must be between 1 and %d, not %d", scriptlog.MaxLimit, q.Limit))
	}
	now := time.Now()
	var err error
	if *since != "" {
		if q.From, err = parseWhen(*since, now, false); err != nil {
			problems = append(problems, "--since: "+err.Error())
		}
	}
	if *until != "" {
		if q.To, err = parseWhen(*until, now, true); err != nil {
			problems = append(problems, "--until: "+err.Error())
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "vigil scriptlog list: %s\n", p)
		}
		return exitBroken
	}
	log, _, closeLog, ok := openScriptLog(ctx, *path, "vigil scriptlog list", stderr)
	if !ok {
		return exitBroken
	}
	defer closeLog()
	runs, err := log.Search(ctx, q)
	if err != nil {
		fmt.Fprintf(stderr, "vigil scriptlog list: %v\n", err)
		return exitBroken
	}
	if *format == "json" {
		out := make([]scriptlog.JSON, 0, len(runs))
		for _, r := range runs {
			out = append(out, r.JSON(false))
		}
		return writeJSON(stdout, stderr, "vigil scriptlog list", out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tSTATUS\tEXIT\tDURATION\tACTOR\tTICKET\tTARGET\tPURPOSE\tCOMMAND")
	for _, r := range runs {
		exit, dur := "-", "-"
		if r.Status != scriptlog.Running {
			exit, dur = strconv.Itoa(r.ExitCode), r.Duration.String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format(time.RFC3339),
			r.Status, exit, dur, oneLine(r.Actor, 20), oneLine(r.Ticket, 20), oneLine(r.Target, 20),
			oneLine(r.Purpose, 50), oneLine(r.Script, 60))
	}
	tw.Flush()
	return exitOK
}

func scriptlogShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("scriptlog show", "[-c FILE] [--format text|json] ID", "Print one script run, with its output.", stdout, stderr)
	path := configFlag(fs)
	format := fs.String("format", "text", "output format: text or json")
	rest, code, ok := parseScriptlogFlags(fs, args, stdout)
	if !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "vigil scriptlog show: --format must be text or json, not %q\n", *format)
		return exitBroken
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "vigil scriptlog show: want exactly one run id (vigil scriptlog show -c FILE ID)")
		return exitBroken
	}
	id, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil || id <= 0 {
		fmt.Fprintf(stderr, "vigil scriptlog show: %q is not a run id\n", rest[0])
		return exitBroken
	}
	log, _, closeLog, ok := openScriptLog(ctx, *path, "vigil scriptlog show", stderr)
	if !ok {
		return exitBroken
	}
	defer closeLog()
	r, err := log.Get(ctx, id)
	if errors.Is(err, scriptlog.ErrNotFound) {
		fmt.Fprintf(stderr, "vigil scriptlog show: no script run %d\n", id)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil scriptlog show: %v\n", err)
		return exitBroken
	}
	if *format == "json" {
		return writeJSON(stdout, stderr, "vigil scriptlog show", r.JSON(true))
	}
	printRun(stdout, r)
	return exitOK
}

// printRun writes a run as "field: value" lines, then its output as the
// bytes stored.
func printRun(w io.Writer, r scriptlog.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, oneLine(value, 0))
		}
	}
	line("run", strconv.FormatInt(r.ID, 10))
	line("command", r.Script)
	line("script sha256", r.ScriptSHA256)
	line("actor", r.Actor)
	line("purpose", r.Purpose)
	line("ticket", r.Ticket)
	line("target", r.Target)
	for _, e := range r.Inputs.Env {
		if e.Unset {
			line("env", e.Name+" (unset)")
		} else {
			line("env", e.Name+"="+e.Value)
		}
	}
	line("started", r.StartedAt.UTC().Format(time.RFC3339Nano))
	line("status", string(r.Status))
	if r.Status != scriptlog.Running {
		line("ended", r.EndedAt.UTC().Format(time.RFC3339Nano))
		line("duration", r.Duration.String())
		line("exit code", strconv.Itoa(r.ExitCode))
	}
	line("hash", r.Hash)
	line("prev hash", r.PrevHash)
	tw.Flush()
	if r.Status == scriptlog.Running {
		return
	}
	fmt.Fprintf(w, "--- output: %d bytes written, %d bytes kept ---\n", r.OutputBytes, len(r.Output))
	w.Write(r.Output)
	if len(r.Output) > 0 && r.Output[len(r.Output)-1] != '\n' {
		fmt.Fprintln(w)
	}
}

func writeJSON(stdout, stderr io.Writer, who string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "%s: write json: %v\n", who, err)
		return exitBroken
	}
	return exitOK
}

// oneLine makes s safe for one line of a table: control characters become
// spaces, and it is cut to max runes (0: no limit) with an ellipsis.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if max > 0 && utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max-1]) + "…"
	}
	return s
}

// parseWhen reads a --since or --until time: RFC 3339, YYYY-MM-DD,
// "YYYY-MM-DD HH:MM[:SS]" or "YYYY-MM-DDTHH:MM[:SS]" (UTC), or a duration
// before now (Go syntax, plus Nd for days). A bare date read as an end
// (until) is the end of that day, so the day is included.
func parseWhen(s string, now time.Time, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := scriptlog.ParseBound(s, end); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("cannot read %q as a time (want RFC 3339, YYYY-MM-DD[ HH:MM:SS], or a duration ago such as 36h or 7d)", s)
}
