package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/dashboards"
)

// cmdDatadog is `vigil datadog export [-c vigil.yaml] [--namespace N]`: it
// prints one JSON document {"dashboard": ..., "slos": [...], "monitors":
// [...]} holding the dashboards/ files with the metric namespace applied:
// --namespace when given, else the config's sinks.datadog.namespace when -c
// is given, else "vigil". With -c, "slos" also holds the config's slos as
// Datadog metric SLOs.
func cmdDatadog(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("datadog export", "[-c FILE] [--namespace N]",
		"Print the dashboards/ JSON (dashboard, SLOs, monitors), importable as-is, with the metric namespace applied: --namespace, else the sinks.datadog.namespace of -c, else vigil.", stdout, stderr)
	path := fs.String("c", "", "config `FILE` whose sinks.datadog.namespace applies")
	ns := fs.String("namespace", dashboards.DefaultNamespace, "metric namespace `N`; overrides the config's sinks.datadog.namespace")
	if code, ok := parseSubcommand(fs, "export", args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil datadog export: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	namespace := *ns
	var slos []dashboards.SLO
	if *path != "" {
		cfg, ok := loadConfig(*path, stderr)
		if !ok {
			return exitBroken
		}
		if !flagSet(fs, "namespace") {
			namespace = cfg.Sinks.Datadog.Namespace
		}
		for _, s := range cfg.SLOs {
			slos = append(slos, dashboards.SLO{Name: s.Name, Objective: s.Objective, Window: s.WindowName, Checks: s.Checks})
		}
	}
	out, err := dashboards.Export(namespace, slos...)
	if err != nil {
		fmt.Fprintf(stderr, "vigil datadog export: %v\n", err)
		return exitBroken
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "vigil datadog export: %v\n", err)
		return exitBroken
	}
	return exitOK
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
