package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlags returns the flag set of `vigil <name>`. synopsis names its
// arguments ("[-c FILE] --queue NAME"); about says what it does. See
// parseFlags for where the usage goes.
func newFlags(name, synopsis, about string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: vigil %s %s\n", name, synopsis)
		if about != "" {
			fmt.Fprintf(w, "\n%s\n", about)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs. With -h or --help it prints the usage to
// stdout and returns exitOK; with a bad flag the problem and the usage go
// to fs's output (stderr) and it returns exitBroken. ok says whether the
// command goes on.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) (code int, ok bool) {
	err := parseQuiet(fs, func() error { return fs.Parse(args) })
	return afterParse(fs, err, stdout)
}

// parseQuiet runs parse with fs's usage silenced (parseFlags prints it to
// the right stream).
func parseQuiet(fs *flag.FlagSet, parse func() error) error {
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	return parse()
}

// afterParse prints the usage for a parse error or a help request.
func afterParse(fs *flag.FlagSet, err error, stdout io.Writer) (code int, ok bool) {
	switch {
	case errors.Is(err, flag.ErrHelp):
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(out)
		return exitOK, false
	case err != nil:
		fs.Usage()
		return exitBroken, false
	}
	return exitOK, true
}

// parseSubcommand parses `vigil <command> <sub> [flags]`, the only
// subcommand of its command: args must start with sub (help as for
// parseFlags; anything else prints the usage to stderr, exitBroken).
func parseSubcommand(fs *flag.FlagSet, sub string, args []string, stdout io.Writer) (code int, ok bool) {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		return parseFlags(fs, []string{"-h"}, stdout)
	case len(args) == 0 || args[0] != sub:
		fs.Usage()
		return exitBroken, false
	}
	return parseFlags(fs, args[1:], stdout)
}

// configFlag adds -c, the config file, with the default every command
// shares (configPath: -c, else $VIGIL_CONFIG, else ./vigil.yaml).
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("c", "", "config `FILE` (default: $VIGIL_CONFIG, else ./vigil.yaml)")
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}
