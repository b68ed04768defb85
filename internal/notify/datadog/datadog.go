// Package datadog is the Datadog sink: every recorded run becomes DogStatsD
// metrics (datadog-go v5, client-side aggregation), and vigil reports its own
// health (sink failures, skipped and late scheduler ticks) the same way.
//
// Metrics, each under "<namespace>." (default "vigil."):
//
//   - check.run (count, 1 per run): tags check, kind, status, and owner and
//     team when the check has them.
//   - check.duration (distribution, milliseconds): tags check, kind, owner, team.
//   - check.violations (gauge, the run's violation count): same tags as
//     check.duration.
//   - check.up (gauge, 1 for pass or warn, 0 for fail or error): same tags
//     as check.duration.
//   - sink.errors (count): tag sink.
//   - scheduler.skipped (count, ticks skipped because the run was still
//     going): tag check, and replica when replicas share a PostgreSQL store.
//   - scheduler.lag (distribution, milliseconds from a tick's due time to
//     its run's start): tag replica when replicas share a PostgreSQL store.
//
// Only check.run carries status: the gauges and the duration describe a
// check, and a status tag on them would leave one stale series per status.
// Tag values are bounded: owner is the configured owner, team the value of
// the check's first "team:" tag; no other check tag and never a violation
// key becomes a tag. The service's own tags (Options.Tags) are added to
// every metric by the client. Every tag is rewritten to Datadog's tag rules
// before it is sent (SanitizeTag), so an owner such as "Billing Team,
// EU|west" cannot split the datagram's tag list.
package datadog

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/scheduler"
)

// Metric names, without the namespace.
const (
	MetricRun              = "check.run"
	MetricDuration         = "check.duration"
	MetricViolations       = "check.violations"
	MetricUp               = "check.up"
	MetricSinkErrors       = "sink.errors"
	MetricSchedulerSkipped = "scheduler.skipped"
	MetricSchedulerLag     = "scheduler.lag"
)

// DefaultNamespace prefixes every metric when Options.Namespace is empty.
const DefaultNamespace = "vigil"

// Name is the sink's name (engine.Sink.Name and the sink tag of sink.errors).
const Name = "datadog"

// Options configure New. The zero value sends to DD_AGENT_HOST (or
// 127.0.0.1) on DD_DOGSTATSD_PORT (or 8125) under "vigil.".
type Options struct {
	// Addr is the DogStatsD address: "host:port" for UDP or
	// "unix:///path/to/socket" for a Unix domain socket. When empty it is
	// DD_AGENT_HOST (a host, host:port or unix:// URL) with
	// DD_DOGSTATSD_PORT (default 8125), else 127.0.0.1:8125.
	Addr string
	// Namespace prefixes every metric name, followed by a dot (default
	// "vigil"; a trailing dot is allowed).
	Namespace string
	// Tags are added to every metric (for example "env:prod").
	Tags []string
	// AggregationInterval is how often the client flushes aggregated
	// metrics (default 2s; Flush sends at once).
	AggregationInterval time.Duration
	// OriginDetection lets the client tag metrics with its container id
	// (off by default, so the lines are the same on every host).
	OriginDetection bool
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
}

// Sink sends metrics to DogStatsD. It implements engine.Sink; its methods
// are safe for concurrent use.
type Sink struct {
	client *statsd.Client
	addr   string
}

// New returns a sink connected to the DogStatsD address of o. It fails
// only when the address cannot be resolved or the socket opened (UDP and
// unix datagram sockets need no listener to open).
func New(o Options) (*Sink, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	addr := Address(o.Addr, getenv)
	ns := o.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if !strings.HasSuffix(ns, ".") {
		ns += "."
	}
	opts := []statsd.Option{
		statsd.WithNamespace(ns),
		statsd.WithTags(sanitizeTags(o.Tags)),
		statsd.WithClientSideAggregation(),
		statsd.WithExtendedClientSideAggregation(),
		statsd.WithoutTelemetry(),
	}
	if !o.OriginDetection {
		opts = append(opts, statsd.WithoutOriginDetection())
	}
	if o.AggregationInterval > 0 {
		opts = append(opts, statsd.WithAggregationInterval(o.AggregationInterval))
	}
	c, err := statsd.New(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("datadog: connect to %s: %w", addr, err)
	}
	return &Sink{client: c, addr: addr}, nil
}

// Address returns the DogStatsD address New uses for addr: addr itself
// when set, else DD_AGENT_HOST with DD_DOGSTATSD_PORT (default port 8125),
// else 127.0.0.1:8125. A unix:// address is returned unchanged.
func Address(addr string, getenv func(string) string) string {
	if addr != "" {
		return addr
	}
	host, port := getenv("DD_AGENT_HOST"), getenv("DD_DOGSTATSD_PORT")
	if strings.HasPrefix(host, statsd.UnixAddressPrefix) {
		return host
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	if port == "" {
		port = "8125"
	}
	return net.JoinHostPort(host, port)
}

// Addr is the address the sink sends to.
func (s *Sink) Addr() string { return s.addr }

// Name returns "datadog".
func (s *Sink) Name() string { return Name }

// Observe emits check.run, check.duration, check.violations and check.up
// for the run. It returns an error only when the client refuses a metric
// (closed client); a metric that cannot reach the agent is dropped by the
// client, as UDP would.
func (s *Sink) Observe(_ context.Context, e engine.Event) error {
	r := e.Result
	checkTags := CheckTags(e.Check, r.Kind)
	runTags := append(checkTags[:len(checkTags):len(checkTags)], Tag("status", string(r.Status)))
	up := 0.0
	if r.Status.Up() {
		up = 1
	}
	for _, err := range []error{
		s.client.Incr(MetricRun, runTags, 1),
		s.client.Distribution(MetricDuration, millis(duration(r)), checkTags, 1),
		s.client.Gauge(MetricViolations, float64(r.Violations), checkTags, 1),
		s.client.Gauge(MetricUp, up, checkTags, 1),
	} {
		if err != nil {
			return fmt.Errorf("datadog: observe %s: %w", e.Check.ID, err)
		}
	}
	return nil
}

// CheckTags returns the tags of a check's metrics, without status:
// check, kind, then owner and team when known, each made to follow
// Datadog's tag rules (Tag). kind overrides check.Kind when not empty.
func CheckTags(check engine.CheckInfo, kind string) []string {
	if kind == "" {
		kind = check.Kind
	}
	tags := []string{Tag("check", check.ID), Tag("kind", kind)}
	if check.Owner != "" {
		tags = append(tags, Tag("owner", check.Owner))
	}
	if team := Team(check.Tags); team != "" {
		tags = append(tags, Tag("team", team))
	}
	return tags
}

// Team is the value of the first "team:" tag with a value ("" when none):
// the team a check's metrics are tagged with.
func Team(tags []string) string {
	for _, t := range tags {
		if team, ok := strings.CutPrefix(t, "team:"); ok && team != "" {
			return team
		}
	}
	return ""
}

func duration(r checks.Result) time.Duration {
	if r.Duration > 0 {
		return r.Duration
	}
	return time.Duration(r.DurationMS) * time.Millisecond
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// SinkError counts one failure of the named sink (sink.errors). Its
// signature fits engine.Options.OnSinkError.
func (s *Sink) SinkError(sink string, _ error) {
	_ = s.client.Incr(MetricSinkErrors, []string{Tag("sink", sink)}, 1)
}

// SchedulerTick reports a scheduler tick: a skipped tick counts in
// scheduler.skipped (tag check); a scheduled run that started reports its
// lateness in scheduler.lag; both carry the tick's replica as tag replica
// when it has one. Other outcomes and manual runs report nothing. Its
// signature fits scheduler.Options.OnTick.
func (s *Sink) SchedulerTick(t scheduler.Tick) {
	var replica []string
	if t.Replica != "" {
		replica = []string{Tag("replica", t.Replica)}
	}
	switch {
	case t.Outcome == scheduler.Skipped:
		_ = s.client.Incr(MetricSchedulerSkipped, append([]string{Tag("check", t.Job)}, replica...), 1)
	case t.Outcome == scheduler.Started && !t.Manual:
		_ = s.client.Distribution(MetricSchedulerLag, millis(max(t.Lag(), 0)), replica, 1)
	}
}

// Flush sends every aggregated and buffered metric now.
func (s *Sink) Flush() error {
	if err := s.client.Flush(); err != nil {
		return fmt.Errorf("datadog: flush: %w", err)
	}
	return nil
}

// Close flushes and closes the client; later metrics are refused.
func (s *Sink) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("datadog: close: %w", err)
	}
	return nil
}
