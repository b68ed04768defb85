package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/dashboards"
)

// cmdDatadog is `vigil datadog export [--namespace N]`: it prints one JSON
// document {"dashboard": ..., "slos": [...], "monitors": [...]} holding the
// dashboards/ files with the metric namespace applied (default "vigil").
func cmdDatadog(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprintln(stderr, "usage: vigil datadog export [--namespace N]")
		return exitBroken
	}
	fs := flag.NewFlagSet("vigil datadog export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ns := fs.String("namespace", dashboards.DefaultNamespace, "metric namespace, as in sinks.datadog.namespace")
	if err := fs.Parse(args[1:]); err != nil {
		return exitBroken
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil datadog export: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	out, err := dashboards.Export(*ns)
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
