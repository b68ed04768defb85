package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/scriptlog"
	"github.com/vigilhq/vigil/internal/store"
	"github.com/vigilhq/vigil/internal/web"
)

// Serve timings: how long shutdown waits for running checks before it
// interrupts them, and the background loops. The scheduler lease's TTL is
// scheduler.lease_ttl in the config.
const (
	drainTimeout   = 20 * time.Second
	tickEvery      = 15 * time.Second
	deliverEvery   = slack.DefaultPollInterval
	retentionEvery = time.Hour
	// Tick claims pile up at the rate of runs (a thousand a second for
	// 10,000 checks every 10s): pruning them often keeps each delete small.
	claimsPruneEvery = time.Minute
)

// serveGCPercent is the garbage collector's target that `vigil serve`
// uses unless the GOGC environment variable sets one: the heap may grow to
// 1.5x the live data rather than Go's default 2x. A long-running server with
// a small live heap trades a little GC CPU for ~4 MiB less RSS under a
// thousand checks (make bench-serve).
const serveGCPercent = 50

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vigil serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (vigil.yaml)")
	listen := fs.String("listen", "", "listen address (default: server.listen from the config)")
	if err := fs.Parse(args); err != nil {
		return exitBroken
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitBroken
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	defer startProfiles(logger)()
	if err := serve(ctx, cfg, logger, nil); err != nil {
		logger.Error("serve", "err", err)
		return exitBroken
	}
	return exitOK
}

// serve runs the scheduler, engine and web server until ctx ends, then
// shuts down in order: stop scheduling, drain or interrupt running checks,
// flush sinks, release the lease, stop the web server, close the store.
// ready, when set, receives the listening address once the server accepts.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, ready chan<- string) error {
	return serveWith(ctx, cfg, logger, serveOptions{ready: ready})
}

// serveWith is serve with what `vigil demo` adds (serve_options.go).
func serveWith(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts serveOptions) error {
	if err := web.CheckListen(cfg.Server.Listen, cfg.Auth.Configured()); err != nil {
		return err
	}
	runbooks, problems, err := loadRunbooks(cfg)
	if err != nil {
		logger.Warn("runbooks", "err", err)
	}
	for _, p := range problems {
		logger.Warn("runbook problem", "problem", p.String())
	}
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return err
	}
	defer st.Close()
	src := newSources(cfg)
	defer src.Close()
	src.use(opts.queues)

	sig, err := newSignals(cfg, st, logger, opts.sentryTransport)
	if err != nil {
		return err
	}
	eng := engine.New(st, sig.sinks, engine.Options{Logger: logger, Outbox: sig.slack != nil, OnSinkError: sig.sinkError})

	host, _ := os.Hostname()
	replica := fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())
	lease := scheduler.NewLease(st, scheduler.LeaseName, replica, cfg.Scheduler.LeaseTTL, logger)
	// On PostgreSQL every replica schedules and claims ticks in the store;
	// a SQLite store has one process, and the lease keeps a second one on
	// the same file from scheduling. Either way the lease holder alone
	// does the singleton duties (Slack delivery, reminders, retention).
	schedOpts := scheduler.Options{Logger: logger, OnTick: sig.schedulerTick, MaxConcurrent: cfg.Scheduler.MaxConcurrent}
	var replicas *scheduler.Replicas
	if st.Replicas() {
		replicas = scheduler.NewReplicas(st, replica, cfg.Scheduler.LeaseTTL, logger)
		schedOpts.Claims = replicas
	} else {
		schedOpts.Leader = lease
	}
	sched := scheduler.New(schedOpts)
	for _, c := range cfg.Checks {
		if err := sched.Add(checkJob(ctx, cfg, c, src, st, eng, sig, logger)); err != nil {
			return fmt.Errorf("schedule %s: %w", c.ID, err)
		}
	}

	srv, err := web.New(web.Options{LocalUser: osUser(), Store: st, Config: cfg, Logger: logger, Engine: eng, Scheduler: sched, Runbooks: runbooks, Sentry: sig.webMiddleware(), Redriver: newRedriver(cfg, src, st), Demo: opts.demo})
	if err != nil {
		return err
	}
	ln, err := opts.listen(cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	bg.Go(func() { lease.Run(bgCtx) })
	if replicas != nil {
		bg.Go(func() { replicas.Run(bgCtx, sched.Stats) })
		bg.Go(func() {
			every(bgCtx, claimsPruneEvery, func(ctx context.Context) { pruneClaims(ctx, st, lease, logger) })
		})
	}
	bg.Go(func() { every(bgCtx, tickEvery, func(ctx context.Context) { tickEngine(ctx, eng, lease, logger) }) })
	bg.Go(func() { every(bgCtx, deliverEvery, func(ctx context.Context) { sig.deliver(ctx, lease, logger) }) })
	bg.Go(func() {
		every(bgCtx, retentionEvery, func(ctx context.Context) { prune(ctx, st, lease, cfg.Retention.Raw, logger) })
	})
	sched.Start()
	logger.Info("vigil serving", "listen", ln.Addr().String(), "checks", len(cfg.Checks), "store", cfg.Store.Driver)
	if opts.started != nil {
		opts.started(serving{Store: st, Engine: eng, Scheduler: sched})
	}
	if opts.ready != nil {
		opts.ready <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining running checks", "timeout", drainTimeout)
	case err := <-httpDone:
		logger.Error("web server stopped", "err", err)
	}
	if replicas != nil {
		replicas.Leave(ctx) // the others take this replica's checks from their next ticks
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	if err := sched.Stop(drainCtx); err != nil {
		logger.Warn("shutdown: interrupted running checks", "err", err)
	}
	cancel()
	leader := lease.IsLeader()
	stopBackground()
	bg.Wait() // the lease is released
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	sig.flush(flushCtx, leader, logger)
	cancel()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: web server", "err", err)
	}
	logger.Info("vigil stopped")
	return nil
}

// checkJob builds the check once (so kinds can cache between runs) and
// returns its scheduler job: run with the check's timeout, record through
// the engine. (The scheduler has claimed the tick when replicas share the
// store.)
func checkJob(ctx context.Context, cfg *config.Config, c config.Check, src *sources, st *store.Store, eng *engine.Engine, sig *signals, logger *slog.Logger) scheduler.Job {
	chk := build(ctx, cfg, c, src, st)
	info := checkInfo(c)
	return scheduler.Job{
		ID: c.ID, Schedule: c.Schedule, Timeout: c.Timeout,
		Run: func(ctx context.Context) {
			sig.checkIn(ctx, info, logger)
			res := checks.Execute(ctx, c.ID, c.Kind, chk, time.Now)
			if errors.Is(context.Cause(ctx), scheduler.ErrInterrupted) && res.Status == checks.Error {
				res.Error = "interrupted: " + res.Error
			}
			if _, err := eng.Record(context.WithoutCancel(ctx), info, res); err != nil {
				logger.Error("record result", "check", c.ID, "err", err)
			}
		},
	}
}

func checkInfo(c config.Check) engine.CheckInfo {
	return engine.CheckInfo{
		ID: c.ID, Kind: c.Kind, Owner: c.Owner, Runbook: c.Runbook, Tags: c.Tags,
		Schedule: c.Schedule, Timeout: c.Timeout, FailAfter: c.FailAfter, ResolveAfter: c.ResolveAfter,
	}
}

// every calls fn now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func tickEngine(ctx context.Context, eng *engine.Engine, lease *scheduler.Lease, logger *slog.Logger) {
	if !lease.IsLeader() {
		return
	}
	if _, err := eng.Tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
		logger.Warn("engine tick", "err", err)
	}
}

// pruneClaims deletes the tick claims that can no longer be claimed (with
// a margin), on the lease holder.
func pruneClaims(ctx context.Context, st *store.Store, lease *scheduler.Lease, logger *slog.Logger) {
	if !lease.IsLeader() {
		return
	}
	if _, err := st.PruneTickClaims(ctx, time.Now().Add(-3*scheduler.ClaimHorizon)); err != nil && ctx.Err() == nil {
		logger.Warn("retention: tick claims", "err", err)
	}
}

func prune(ctx context.Context, st *store.Store, lease *scheduler.Lease, raw time.Duration, logger *slog.Logger) {
	if !lease.IsLeader() {
		return
	}
	now := time.Now()
	stats, err := st.Prune(ctx, now, raw)
	if err != nil {
		if ctx.Err() == nil {
			logger.Warn("retention", "err", err)
		}
		return
	}
	// A replica not seen for a day is gone for good.
	if _, err := st.PruneReplicas(ctx, now.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
		logger.Warn("retention: replicas", "err", err)
	}
	if _, err := st.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
		logger.Warn("retention: sessions", "err", err)
	}
	if stats.Runs > 0 {
		logger.Info("retention: rolled up old runs", "runs", stats.Runs, "rollups", stats.Rollups)
	}
	log, err := scriptlog.NewSQL(st.DB(), st.Driver())
	if err != nil {
		logger.Warn("retention: script log", "err", err)
		return
	}
	if rep, err := log.Prune(ctx, now, scriptlog.Retention{}); err != nil {
		if ctx.Err() == nil {
			logger.Warn("retention: script log", "err", err)
		}
	} else if rep.Runs > 0 {
		logger.Info("retention: pruned old script runs behind a checkpoint", "runs", rep.Runs, "checkpoint", rep.CheckpointSeq)
	}
}
