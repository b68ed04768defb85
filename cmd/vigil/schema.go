package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/docs"
	"github.com/vigilhq/vigil/internal/config"
)

// cmdSchema prints the JSON Schema of vigil.yaml.
func cmdSchema(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("schema", "", "Print the JSON Schema (draft 2020-12) of vigil.yaml, for editors: save it beside the config and start the config with\n  # yaml-language-server: $schema=./vigil.schema.json", stdout, stderr)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil schema: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	out, err := config.Schema(kinds(), docs.Describe)
	if err != nil {
		fmt.Fprintf(stderr, "vigil schema: %v\n", err)
		return exitBroken
	}
	fmt.Fprintf(stdout, "%s\n", out)
	return exitOK
}
