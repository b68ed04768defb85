package main

import (
	"context"
	"fmt"
	"io"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/web"
)

// cmdToken is `vigil token create --name N --role R`: it prints a new API
// token, once, and the auth.tokens entry that holds its hash.
func cmdToken(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("token create", "--name NAME --role viewer|operator|admin",
		"Create an API token for scripts. Prints the token (shown only this once: vigil keeps its SHA-256 only) on the first line, and the auth.tokens entry to paste into vigil.yaml on the second. Scripts send it as \"Authorization: Bearer <token>\".", stdout, stderr)
	name := fs.String("name", "", "the token's `NAME` in auth.tokens and the audit log (required)")
	role := fs.String("role", "", "the token's `ROLE`: viewer (read), operator (run, ack, silence, redrive, log scripts) or admin (required)")
	if code, ok := parseSubcommand(fs, "create", args, stdout); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "vigil token create: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	case !config.ValidAuthName(*name):
		fmt.Fprintf(stderr, "vigil token create: --name %q: want letters, digits and . _ @ + -\n", *name)
		return exitBroken
	}
	if _, err := web.ParseRole(*role); err != nil {
		fmt.Fprintf(stderr, "vigil token create: --role: %v\n", err)
		return exitBroken
	}
	token, sum, err := web.NewAPIToken()
	if err != nil {
		fmt.Fprintf(stderr, "vigil token create: %v\n", err)
		return exitBroken
	}
	fmt.Fprintln(stdout, token)
	fmt.Fprintf(stdout, "  - {name: %s, token_sha256: %s, role: %s}\n", *name, sum, *role)
	fmt.Fprintln(stderr, "The first line is the token: it is shown only now. Store it where the script reads it (vigil exec --token-file, or a secret store).")
	fmt.Fprintln(stderr, "Paste the second line under auth.tokens in vigil.yaml and restart vigil serve.")
	return exitOK
}
