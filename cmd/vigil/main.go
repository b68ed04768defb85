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
)

// Exit codes of the CLI contract.
const (
	exitOK     = 0 // all pass or warn
	exitFail   = 1 // any fail (run), broken chain (scriptlog verify)
	exitBroken = 2 // any error, bad config or bad usage
)

func main() {
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
		{"serve", "run checks on schedule and serve the dashboard, API and /metrics", cmdServe},
		{"demo", "the training sandbox: seeded data, scenarios, captured signals", cmdDemo},
		{"run", "run checks once and print their results (run --once)", cmdRun},
		{"validate", "check the configuration, rules files and runbooks (--connect: and the datasources)", cmdValidate},
		{"schema", "print the JSON Schema of vigil.yaml (for editors)", cmdSchema},
		{"exec", "run a one-off script and record it in the script log", cmdExec},
		{"scriptlog", "verify, anchor, search and show the script log", cmdScriptlog},
		{"redrive", "move a dead-letter queue's messages back to their source", cmdRedrive},
		{"hash-password", "print the argon2id hash of a password (for auth.users)", cmdHashPassword},
		{"token", "create an API token (for auth.tokens)", cmdToken},
		{"datadog", "print the Datadog dashboard, SLOs and monitors", cmdDatadog},
		{"version", "print vigil's version", cmdVersion},
	}
}

// Main runs the vigil CLI with args (without the program name) and returns
// the process exit code. Help (-h, --help, help [COMMAND]) goes to stdout
// and exits 0; a missing or unknown command prints the usage to stderr and
// exits 2.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitBroken
	}
	name, rest := args[0], args[1:]
	switch {
	case name == "--version" || name == "-version" || name == "-v":
		return cmdVersion(ctx, rest, stdout, stderr)
	case isHelp(name) && len(rest) > 0 && !isHelp(rest[0]): // help COMMAND
		name, rest = rest[0], []string{"-h"}
	case isHelp(name):
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "vigil: unknown command %q\n\n", name)
	usage(stderr)
	return exitBroken
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: vigil <command> [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'vigil help <command>' or 'vigil <command> -h' for its arguments and flags.")
	fmt.Fprintln(w, "-c FILE defaults to $VIGIL_CONFIG, else ./vigil.yaml. Documentation: docs/ in the repository.")
}
