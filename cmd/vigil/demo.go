package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/demo"
	"github.com/vigilhq/vigil/internal/web"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "[--listen ADDR [--public]] [--scenario NAME]...",
		"The training sandbox: seeded data, every check kind, scenarios to inject, captured signals. Needs no configuration; nothing leaves the machine.", stdout, stderr)
	listen := fs.String("listen", config.DefaultListen, "listen `ADDR`ess of the dashboard (loopback unless --public)")
	public := fs.Bool("public", false, "allow a --listen address beyond loopback (the demo's passwords are public)")
	var scenarios []string
	fs.Func("scenario", "inject the scenario `NAME` at start (repeatable): "+strings.Join(demo.CatalogNames(), ", "), func(v string) error {
		if _, ok := demo.Lookup(v); !ok {
			return fmt.Errorf("unknown scenario %q (known: %s)", v, strings.Join(demo.CatalogNames(), ", "))
		}
		scenarios = append(scenarios, v)
		return nil
	})
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil demo: unexpected argument %q\n", fs.Arg(0))
		return exitBroken
	}
	// The demo's users and passwords are printed in the README: beyond
	// loopback, anyone who can reach the port is an admin.
	if loopback, err := web.IsLoopback(*listen); err != nil {
		fmt.Fprintf(stderr, "vigil demo: %v\n", err)
		return exitBroken
	} else if !loopback && !*public {
		fmt.Fprintf(stderr, "vigil demo: refusing to listen on %s: the demo's passwords are public, so anyone who reaches it is an admin; listen on 127.0.0.1, or add --public to mean it\n", *listen)
		return exitBroken
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runDemo(ctx, demoOptions{listen: *listen, scenarios: scenarios}, stdout, logger); err != nil {
		logger.Error("demo", "err", err)
		return exitBroken
	}
	return exitOK
}

// demoOptions configure runDemo.
type demoOptions struct {
	listen    string
	scenarios []string // injected at start
	policies  int      // 0: the sandbox's default
	// started, when set, is called once the sandbox serves (tests).
	started func(*demo.Sandbox, serving)
}

// runDemo builds the training sandbox in a temporary folder, loads the
// configuration it writes through the real config loader, and serves it
// until ctx ends; the folder is removed on return.
func runDemo(ctx context.Context, o demoOptions, stdout io.Writer, logger *slog.Logger) error {
	dir, err := os.MkdirTemp("", "vigil-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w", o.listen, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	base := "http://" + browsable(addr)

	sb, err := demo.Start(ctx, demo.SandboxOptions{Dir: dir, Listen: addr, BaseURL: base, HashPassword: web.HashPassword, Policies: o.policies, Logger: logger})
	if err != nil {
		return err
	}
	defer sb.Close()
	cfg, err := config.Load(sb.ConfigPath(), kinds())
	if err != nil {
		return fmt.Errorf("demo: load the sandbox's config: %w", err)
	}
	for _, name := range o.scenarios {
		if err := sb.Inject(ctx, name); err != nil {
			return err
		}
	}
	printBanner(stdout, sb, o.scenarios)
	return serveWith(ctx, cfg, logger, serveOptions{
		listener:        ln,
		queues:          sb.Queues(),
		buckets:         sb.Buckets(),
		sentryTransport: sb.SentryTransport(),
		demo:            sb,
		started: func(sv serving) {
			sb.Attach(sv.Store, sv.Scheduler.RunNow)
			if o.started != nil {
				o.started(sb, sv)
			}
		},
	})
}

// browsable is addr with an unspecified host (0.0.0.0, ::) as localhost.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func printBanner(w io.Writer, sb *demo.Sandbox, active []string) {
	fmt.Fprintln(w, "vigil demo: the training sandbox. Everything runs in this process; nothing is paged and nothing leaves the machine.")
	fmt.Fprintf(w, "  dashboard  %s\n", sb.BaseURL())
	for i, u := range sb.Users() {
		label := ""
		if i == 0 {
			label = "users"
		}
		fmt.Fprintf(w, "  %-10s %-8s password %-14s (%s)\n", label, u.Name, u.Password, u.Role)
	}
	fmt.Fprintf(w, "  scenarios  %s\n", strings.Join(demo.CatalogNames(), ", "))
	if len(active) > 0 {
		fmt.Fprintf(w, "  injected   %s\n", strings.Join(active, ", "))
	}
	fmt.Fprintf(w, "  files      %s (removed on exit)\n", sb.Dir())
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
