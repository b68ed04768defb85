package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/vigilhq/vigil/internal/web"
)

// cmdHashPassword reads a password from standard input (one line) and
// prints its argon2id hash for auth.users[].password_hash.
func cmdHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return exitBroken
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintf(stderr, "vigil hash-password: read standard input: %v\n", err)
		return exitBroken
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		fmt.Fprintln(stderr, "vigil hash-password: give the password on standard input, e.g. `read -rs P; echo \"$P\" | vigil hash-password`")
		return exitBroken
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		fmt.Fprintf(stderr, "vigil hash-password: %v\n", err)
		return exitBroken
	}
	fmt.Fprintln(stdout, hash)
	return exitOK
}
