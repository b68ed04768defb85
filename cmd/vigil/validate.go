package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigilhq/vigil/internal/config"
)

// cmdValidate checks the config, its rules files and its runbooks in one
// pass, printing every problem as file:line; a check without a runbook is
// a warning (as in run and serve), anything else fails with exitBroken.
func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[-c FILE]", "Check the configuration, its rules files and its runbooks; print every problem as file:line.", stdout, stderr)
	path := configFlag(fs)
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
	if failed {
		return exitBroken
	}
	fmt.Fprintf(stdout, "%s: ok (%d checks, %d runbooks)\n", cfg.Path, len(cfg.Checks), runbooks)
	return exitOK
}
