package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/vigilhq/vigil/internal/web"
)

// cmdHashPassword prints the argon2id hash of a password for
// auth.users[].password_hash. On a terminal it asks for the password twice
// without echoing it; otherwise it reads one line from standard input.
func cmdHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("hash-password", "",
		"Print the argon2id hash of a password, for auth.users[].password_hash. On a terminal it asks twice without echo; otherwise it reads one line from standard input (echo \"$P\" | vigil hash-password).", stdout, stderr)
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil hash-password: unexpected argument %q (the password is read, never an argument: arguments show in ps and shell history)\n", fs.Arg(0))
		return exitBroken
	}
	password, err := readPassword(os.Stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vigil hash-password: %v\n", err)
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

// readPassword reads the password: from a terminal twice without echo,
// prompting on stderr; else one line of in.
func readPassword(in *os.File, prompt io.Writer) (string, error) {
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read standard input: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", errors.New("give the password on standard input, e.g. `read -rs P; echo \"$P\" | vigil hash-password`, or run it on a terminal")
		}
		return password, nil
	}
	ask := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	first, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errors.New("empty password")
	}
	again, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if again != first {
		return "", errors.New("the passwords differ")
	}
	return first, nil
}
