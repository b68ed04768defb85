package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/vigilhq/vigil/internal/slo"
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
	// anchorEvery is how often the script log's head is anchored (when it
	// changed): entries newer than the last anchor can be removed unseen.
	anchorEvery = time.Minute
	// vetTimeout bounds the inspection of the datasources at start.
	vetTimeout = 30 * time.Second
)

// serveGCPercent is the garbage collector's target that `vigil serve`
// uses unless the GOGC environment variable sets one: the heap may grow to
// 1.5x the live data rather than Go's default 2x. A long-running server with
// a small live heap trades a little GC CPU for ~4 MiB less RSS under a
// thousand checks (make bench-serve).
const serveGCPercent = 50

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "[-c FILE] [--listen ADDR]",
		"Run the checks on schedule, keep incidents, send signals, serve the dashboard, the API and /metrics. SIGTERM drains running checks, flushes sinks and exits 0.", stdout, stderr)
	path := configFlag(fs)
	listen := fs.String("listen", "", "listen `ADDR`ess (default: server.listen from the config)")
	if code, ok := parseFlags(fs, args, stdout); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil serve: unexpected argument %q\n", fs.Arg(0))
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
		if errors.Is(err, errComponentFailed) {
			return exitFail // it ran, then broke: a supervisor should restart it
		}
		return exitBroken
	}
	return exitOK
}

// errComponentFailed is returned by serve when a part of it (the web
// server, a background worker) stopped while serving: serve shuts the rest
// down in order and `vigil serve` exits 1, so that systemd's
// Restart=on-failure restarts it. A clean exit (0) only follows SIGTERM or
// SIGINT.
var errComponentFailed = errors.New("a component of vigil serve failed")

// guarded runs fn, turning a panic into an errComponentFailed sent to
// fatal (which must have room for it) instead of a crash that skips the
// drain.
func guarded(name string, fatal chan<- error, fn func()) func() {
	return func() {
		defer func() {
			if r := recover(); r != nil {
				fatal <- fmt.Errorf("%w: %s panicked: %v\n%s", errComponentFailed, name, r, debug.Stack())
			}
		}()
		fn()
	}
}

// serve runs the scheduler, engine and web server until ctx ends or one of
// them fails, then shuts down in order: stop scheduling, drain or interrupt
// running checks, flush sinks, release the lease, stop the web server,
// close the store. It returns nil after ctx ended, an error wrapping
// errComponentFailed when a component failed, or another error when it
// could not start. ready, when set, receives the listening address once
// the server accepts.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, ready chan<- string) error {
	return serveWith(ctx, cfg, logger, serveOptions{ready: ready})
}

// serveWith is serve with what `vigil demo` adds (serve_options.go).
func serveWith(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts serveOptions) error {
	if err := web.CheckListen(cfg.Server.Listen, cfg.Auth.Configured()); err != nil {
		return err
	}
	if cfg.Auth.Configured() && cfg.Scriptlog.Key.IsZero() {
		return fmt.Errorf("serve: scriptlog.key_file is required when auth is configured: without a key, anyone who can write "+
			"to the store can rewrite the script log undetected; %s", scriptlog.CreateKeyHint)
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
	scripts, err := openScripts(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	src := newSources(cfg, logger)
	defer src.Close()
	src.use(opts.queues, opts.buckets)
	warnPrivileged(cfg, sqlDatasources(cfg, cfg.Checks), logger)

	sig, err := newSignals(cfg, st, logger, opts.sentryTransport)
	if err != nil {
		return err
	}
	eng := engine.New(st, sig.sinks, engine.Options{Logger: logger, Outbox: sig.slack != nil, OnSinkError: sig.sinkError, SLOs: slo.FromConfig(cfg.SLOs)})

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

	srv, err := web.New(web.Options{LocalUser: osUser(), Store: st, Config: cfg, Logger: logger, Engine: eng, Scheduler: sched, Lease: lease, Runbooks: runbooks, Sentry: sig.webMiddleware(), Redriver: newRedriver(cfg, src, st), Demo: opts.demo, Metrics: sig.prom.Handler()})
	if err != nil {
		return err
	}
	ln, err := opts.listen(cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	// Each component reports its failure here, once: the web server, the
	// metrics server and the six background loops.
	fatal := make(chan error, 8)
	metrics, err := serveMetrics(cfg.Server.MetricsListen, sig.prom.Handler(), fatal, logger)
	if err != nil {
		ln.Close()
		return err
	}
	go func() {
		err := srv.Serve(ln)
		if err == nil {
			err = errors.New("stopped accepting connections")
		}
		fatal <- fmt.Errorf("%w: web server: %w", errComponentFailed, err)
	}()

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var bg sync.WaitGroup
	if replicas != nil {
		bg.Go(guarded("replica heartbeat", fatal, func() { replicas.Run(bgCtx, sched.Stats) }))
		bg.Go(guarded("tick claims retention", fatal, func() {
			every(bgCtx, claimsPruneEvery, func(ctx context.Context) { pruneClaims(ctx, st, lease, logger) })
		}))
	}
	bg.Go(func() {
		vetCtx, cancel := context.WithTimeout(bgCtx, vetTimeout)
		defer cancel()
		vetDatasources(vetCtx, cfg, cfg.Checks, src, logger)
	})
	bg.Go(func() { srv.Warm(bgCtx) }) // the status page's first build
	// The lease outlives the other loops: the leader still holds it while
	// it delivers the last alerts at shutdown.
	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	var leaseRun sync.WaitGroup
	leaseRun.Go(guarded("scheduler lease", fatal, func() { lease.Run(leaseCtx) }))
	bg.Go(guarded("engine tick", fatal, func() {
		every(bgCtx, tickEvery, func(ctx context.Context) { tickEngine(ctx, eng, lease, logger) })
	}))
	bg.Go(guarded("outbox delivery", fatal, func() {
		every(bgCtx, deliverEvery, func(ctx context.Context) { sig.deliver(ctx, lease, logger) })
	}))
	bg.Go(guarded("retention", fatal, func() {
		every(bgCtx, retentionEvery, func(ctx context.Context) { prune(ctx, st, scripts, lease, cfg.Retention.Raw, logger) })
	}))
	var anchored scriptlog.Anchor
	anchor := func(ctx context.Context) {
		if cfg.Scriptlog.AnchorFile == "" {
			return
		}
		var err error
		if anchored, err = scripts.AnchorHead(ctx, cfg.Scriptlog.AnchorFile, time.Now(), anchored); err != nil && ctx.Err() == nil {
			logger.Error("script log: anchor the head", "err", err)
		}
	}
	bg.Go(guarded("script log anchor", fatal, func() { every(bgCtx, anchorEvery, anchor) }))
	sched.Start()
	limits := srv.Limits()
	logger.Info("vigil serving", "listen", ln.Addr().String(), "checks", len(cfg.Checks), "store", cfg.Store.Driver,
		"max_connections", limits.Max, "max_connections_per_ip", limits.PerAddr)
	if opts.started != nil {
		opts.started(serving{Store: st, Engine: eng, Scheduler: sched})
	}
	if opts.ready != nil {
		opts.ready <- ln.Addr().String()
	}

	var failed error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining running checks", "timeout", drainTimeout)
	case failed = <-fatal:
		logger.Error("shutting down: a component failed; draining running checks", "err", failed, "timeout", drainTimeout)
	}
	if replicas != nil {
		replicas.Leave(ctx) // the others take this replica's checks from their next ticks
	}
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	if err := sched.Stop(drainCtx); err != nil {
		logger.Warn("shutdown: interrupted running checks", "err", err)
	}
	cancel()
	stopBackground()
	bg.Wait()
	// The last runs' alerts wait in the Slack outbox. The leader delivers
	// them before it lets the lease go; a replica whose leader stopped
	// first takes the free lease to deliver them (a replica still running
	// holds it and delivers them itself). Either way one replica at a time
	// delivers, and none while the delivery loop above still ran.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if sig.slack != nil && lease.TryLead(flushCtx) {
		if err := sig.slack.Drain(flushCtx); err != nil {
			logger.Warn("shutdown: slack outbox not drained (kept for the next start)", "err", err)
		}
	}
	stopLease()
	leaseRun.Wait()                    // the lease is released
	anchor(context.WithoutCancel(ctx)) // the last entries, too
	sig.flush(flushCtx, logger)
	cancel()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("shutdown: web server", "err", err)
	}
	if metrics != nil {
		if err := metrics.Shutdown(shutCtx); err != nil {
			logger.Warn("shutdown: metrics server", "err", err)
		}
	}
	logger.Info("vigil stopped")
	return failed
}

// serveMetrics serves GET /metrics alone, without auth, on addr
// (server.metrics_listen); nil when addr is empty. A server that stops
// unexpectedly reports to fatal.
func serveMetrics(addr string, h http.Handler, fatal chan<- error, logger *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (server.metrics_listen): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatal <- fmt.Errorf("%w: metrics server: %w", errComponentFailed, err)
		}
	}()
	logger.Info("metrics serving", "listen", ln.Addr().String())
	return srv, nil
}

// checkJob builds the check once (so kinds can cache between runs) and
// returns its scheduler job: run with the check's timeout, record through
// the engine. (The scheduler has claimed the tick when replicas share the
// store.)
func checkJob(ctx context.Context, cfg *config.Config, c config.Check, src *sources, st *store.Store, eng *engine.Engine, sig *signals, logger *slog.Logger) scheduler.Job {
	chk := build(ctx, cfg, c, src, st, logger)
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

// openScripts returns the store's script log, keyed with the config's key
// and sealed with it (see scriptlog.SQL.Seal), and says how it is kept.
func openScripts(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger) (*scriptlog.SQL, error) {
	log, err := scriptlog.NewSQL(st.DB(), st.Driver(), cfg.Scriptlog.Key)
	if err != nil {
		return nil, err
	}
	key := cfg.Scriptlog.Key
	if key.IsZero() {
		logger.Warn("script log: unkeyed: its chain detects accidents, not a store writer; set scriptlog.key_file")
	} else if err := log.Seal(ctx, time.Now()); err != nil {
		return nil, err
	} else if fi, err := os.Stat(cfg.Scriptlog.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("script log: the key file can be read by others: chmod 600 it", "file", cfg.Scriptlog.KeyFile, "mode", fi.Mode().Perm().String())
	}
	if cfg.Scriptlog.AnchorFile == "" {
		logger.Warn("script log: no scriptlog.anchor_file: removing the newest entries would go undetected")
	}
	logger.Info("script log", "key", key.String(), "anchor_file", cfg.Scriptlog.AnchorFile)
	return log, nil
}

func prune(ctx context.Context, st *store.Store, scripts *scriptlog.SQL, lease *scheduler.Lease, raw time.Duration, logger *slog.Logger) {
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
	if rep, err := scripts.Prune(ctx, now); err != nil {
		if ctx.Err() == nil {
			logger.Warn("retention: script log", "err", err)
		}
	} else if rep.Runs > 0 {
		logger.Info("retention: pruned old script runs behind a checkpoint", "runs", rep.Runs, "checkpoint", rep.CheckpointSeq)
	}
}
