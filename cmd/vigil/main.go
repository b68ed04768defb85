// Command vigil runs scheduled validation checks and serves the on-call
// dashboard. This package only parses the command line and wires vigil's
// packages together; every behaviour lives in them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigilhq/vigil/internal/memlimit"
)

// Exit codes of the CLI contract.
const (
	exitOK     = 0 // all pass or warn
	exitFail   = 1 // any fail (run), broken chain (scriptlog verify)
	exitBroken = 2 // any error, bad config or bad usage
)

func main() {
	memlimit.Start() // heap pacing for the whole process: see internal/memlimit and the README
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run checks on schedule and serve the dashboard and API", cmdServe},
		{"demo", "the training sandbox: seeded data, scenarios, captured signals (demo [--listen ADDR] [--scenario NAME]...)", cmdDemo},
		{"run", "run checks once and print their results (run --once -c FILE)", cmdRun},
		{"validate", "check the configuration, rules files and runbooks (--connect: and the datasources)", cmdValidate},
		{"exec", "run a one-off script and record it in the script log (exec --purpose TEXT -- CMD ARGS...)", cmdExec},
		{"scriptlog", "verify, search and show the script log (scriptlog verify|list|show -c FILE)", cmdScriptlog},
		{"hash-password", "print the argon2id hash of a password read from standard input (for auth.users)", cmdHashPassword},
		{"redrive", "move a dead-letter queue's messages back to their source (--queue NAME)", cmdRedrive},
		{"datadog", "print the Datadog dashboard, SLOs and monitors (datadog export [-c FILE] [--namespace N])", cmdDatadog},
	}
}

// Main runs the vigil CLI with args (without the program name) and returns
// the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitBroken
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitBroken
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vigil <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'vigil <command> -h' for a command's flags.")
}
