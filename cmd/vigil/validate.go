package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/internal/notify/datadog"
)

func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (vigil.yaml)")
	if err := fs.Parse(args); err != nil {
		return exitBroken
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitBroken
	}
	set, problems, err := loadRunbooks(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "vigil validate: %v\n", err)
		return exitBroken
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	for _, w := range datadog.ConfigWarnings(cfg) {
		fmt.Fprintln(stderr, w)
	}
	if len(problems) > 0 {
		return exitBroken
	}
	fmt.Fprintf(stdout, "%s: ok (%d checks, %d runbooks)\n", cfg.Path, len(cfg.Checks), len(set.Runbooks))
	return exitOK
}
