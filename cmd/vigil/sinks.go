package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
	sentryfiber "github.com/getsentry/sentry-go/fiber"
	"github.com/gofiber/fiber/v2"

	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/notify/datadog"
	"github.com/vigilhq/vigil/internal/notify/prometheus"
	vsentry "github.com/vigilhq/vigil/internal/notify/sentry"
	"github.com/vigilhq/vigil/internal/notify/slack"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/internal/store"
)

// signals holds the configured sinks: every run goes to each of them, and
// the Slack worker delivers the outbox the engine fills.
type signals struct {
	sinks   []engine.Sink
	datadog *datadog.Sink
	sentry  *vsentry.Sink
	hub     *sentry.Hub
	slack   *slack.Worker
	prom    *prometheus.Sink // always on: /metrics
}

// newSignals creates the sinks the config names. Datadog is on when the
// config gives an address or the environment names an agent
// (DD_AGENT_HOST); Sentry when it has a DSN; Slack when it has a webhook.
// sentryTransport replaces sentry-go's HTTP transport when not nil (the
// demo's in-process capture).
func newSignals(cfg *config.Config, st *store.Store, logger *slog.Logger, sentryTransport sentry.Transport) (*signals, error) {
	s := &signals{sinks: []engine.Sink{engine.LogSink(logger)}}
	promOpts := prometheus.Options{Process: true}
	if cfg.Sinks.Slack.WebhookURL != "" {
		promOpts.OutboxDepth = st.OutboxBacklog
	}
	s.prom = prometheus.New(promOpts)
	s.sinks = append(s.sinks, s.prom)
	if cfg.Sinks.Datadog.Addr != "" || os.Getenv("DD_AGENT_HOST") != "" {
		dd, err := datadog.New(datadog.Options{Addr: cfg.Sinks.Datadog.Addr, Namespace: cfg.Sinks.Datadog.Namespace, Tags: cfg.Sinks.Datadog.Tags})
		if err != nil {
			return nil, err
		}
		s.datadog = dd
		for _, w := range datadog.ConfigWarnings(cfg) {
			logger.Warn("datadog tag rewritten", "warning", w.String())
		}
		s.sinks = append(s.sinks, dd)
	}
	if cfg.Sinks.Sentry.DSN != "" {
		client, err := vsentry.NewClient(cfg.Sinks.Sentry.DSN, cfg.Sinks.Sentry.Environment, sentryTransport)
		if err != nil {
			return nil, err
		}
		s.hub = sentry.NewHub(client, sentry.NewScope())
		s.sentry = vsentry.New(client, vsentry.Options{BaseURL: cfg.Server.BaseURL})
		s.sinks = append(s.sinks, s.sentry)
	}
	if cfg.Sinks.Slack.WebhookURL != "" {
		w, err := slack.NewWorker(st, slack.Options{WebhookURL: cfg.Sinks.Slack.WebhookURL, Links: slack.Links{Base: cfg.Server.BaseURL},
			Logger: logger, GroupWait: cfg.Sinks.Slack.GroupWait, PollInterval: deliverEvery})
		if err != nil {
			return nil, err
		}
		s.slack = w
	}
	return s, nil
}

// sinkError counts a sink's failure as a metric (the engine logs it).
func (s *signals) sinkError(name string, err error) {
	s.prom.SinkError(name, err)
	if s.datadog != nil {
		s.datadog.SinkError(name, err)
	}
}

// schedulerTick reports skipped ticks and lag.
func (s *signals) schedulerTick(t scheduler.Tick) {
	s.prom.SchedulerTick(t)
	if s.datadog != nil {
		s.datadog.SchedulerTick(t)
	}
}

// checkIn opens a Sentry cron check-in before a run.
func (s *signals) checkIn(ctx context.Context, info engine.CheckInfo, logger *slog.Logger) {
	if s.sentry == nil {
		return
	}
	if err := s.sentry.CheckIn(ctx, info, sentry.CheckInStatusInProgress); err != nil {
		logger.Warn("sentry check-in", "check", info.ID, "err", err)
	}
}

// webMiddleware captures web server panics in Sentry (nil without Sentry).
func (s *signals) webMiddleware() fiber.Handler {
	if s.hub == nil {
		return nil
	}
	capture := sentryfiber.New(sentryfiber.Options{Repanic: true})
	return func(c *fiber.Ctx) error {
		sentryfiber.SetHubOnContext(c, s.hub.Clone())
		return capture(c)
	}
}

// deliver sends due Slack messages; only the lease holder delivers, so a
// message is never sent by two replicas.
func (s *signals) deliver(ctx context.Context, lease *scheduler.Lease, logger *slog.Logger) {
	if s.slack == nil || !lease.IsLeader() {
		return
	}
	if _, err := s.slack.DeliverDue(ctx); err != nil && ctx.Err() == nil {
		logger.Warn("slack delivery", "err", err)
	}
}

// flush sends what the Datadog and Sentry sinks buffer, at shutdown (the
// Slack outbox is drained by the lease holder: see serve).
func (s *signals) flush(ctx context.Context, logger *slog.Logger) {
	if s.datadog != nil {
		if err := s.datadog.Close(); err != nil {
			logger.Warn("shutdown: datadog flush", "err", err)
		}
	}
	if s.sentry != nil {
		deadline, ok := ctx.Deadline()
		timeout := 5 * time.Second
		if ok {
			timeout = time.Until(deadline)
		}
		s.sentry.Flush(timeout)
	}
}
