package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/dashboards"
)

// cmdDatadog is `vigil datadog export [--namespace N]`: it prints one JSON
// document {"dashboard": ..., "slos": [...], "monitors": [...]} holding the
// dashboards/ files with the metric namespace applied (default "vigil").
func cmdDatadog(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("datadog export", "[--namespace N]",
		"Print the dashboards/ JSON (dashboard, SLOs, monitors) with the metric namespace applied.", stdout, stderr)
	ns := fs.String("namespace", dashboards.DefaultNamespace, "metric namespace `N`, as in sinks.datadog.namespace")
	if code, ok := parseSubcommand(fs, "export", args, stdout); !ok {
		return code
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
