// Package prometheus is the Prometheus sink: every recorded run updates the
// metrics vigil serves at /metrics, in the Prometheus text exposition
// format, from its own registry (never the global default one).
//
// Metrics:
//
//   - vigil_check_runs_total (counter): labels check, kind, status.
//   - vigil_check_up (gauge, 1 when the last run passed or warned): check.
//   - vigil_check_violations (gauge, the last run's count): check.
//   - vigil_check_duration_seconds (histogram): check.
//   - vigil_scheduler_lag_seconds (histogram, from a tick's due time to its
//     run's start): no label.
//   - vigil_scheduler_skipped_total (counter, ticks skipped because the run
//     was still going): check.
//   - vigil_outbox_depth (gauge, Slack messages waiting), when the sink is
//     given a way to read it.
//   - vigil_sink_errors_total (counter): sink.
//
// Labels are bounded by the configuration: a check id, a kind, one of four
// statuses, a sink name. A violation key never becomes a label (one series
// per failing row would grow without bound).
package prometheus

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/engine"
	"github.com/vigilhq/vigil/internal/scheduler"
)

// Name is the sink's name (engine.Sink.Name, the sink label of
// vigil_sink_errors_total).
const Name = "prometheus"

// Metric names.
const (
	MetricRuns             = "vigil_check_runs_total"
	MetricUp               = "vigil_check_up"
	MetricViolations       = "vigil_check_violations"
	MetricDuration         = "vigil_check_duration_seconds"
	MetricSchedulerLag     = "vigil_scheduler_lag_seconds"
	MetricSchedulerSkipped = "vigil_scheduler_skipped_total"
	MetricOutboxDepth      = "vigil_outbox_depth"
	MetricSinkErrors       = "vigil_sink_errors_total"
)

// Options configure New.
type Options struct {
	// OutboxDepth, when set, reads how many Slack messages wait in the
	// outbox; it is called at each scrape, bounded by a 2s timeout.
	OutboxDepth func(ctx context.Context) (int, error)
	// Process adds the Go runtime and process collectors (go_*, process_*).
	Process bool
}

// Sink records runs as Prometheus metrics. Its methods are safe for
// concurrent use.
type Sink struct {
	reg        *prometheus.Registry
	runs       *prometheus.CounterVec
	up         *prometheus.GaugeVec
	violations *prometheus.GaugeVec
	duration   *prometheus.HistogramVec
	lag        prometheus.Histogram
	skipped    *prometheus.CounterVec
	sinkErrors *prometheus.CounterVec
}

// durationBuckets span a fast query to a check's default 60s timeout.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// New returns a sink with its own registry.
func New(o Options) *Sink {
	s := &Sink{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRuns,
			Help: "Check runs by status (pass, warn, fail, error)."}, []string{"check", "kind", "status"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricUp,
			Help: "1 when the check's last run passed or warned, else 0."}, []string{"check"}),
		violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricViolations,
			Help: "The check's last run's violation count."}, []string{"check"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricDuration,
			Help: "How long check runs take.", Buckets: durationBuckets}, []string{"check"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricSchedulerLag,
			Help: "From a scheduled tick's due time to its run's start.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricSchedulerSkipped,
			Help: "Ticks skipped because the check's last run was still going."}, []string{"check"}),
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricSinkErrors,
			Help: "Failures of a sink."}, []string{"sink"}),
	}
	s.reg.MustRegister(s.runs, s.up, s.violations, s.duration, s.lag, s.skipped, s.sinkErrors)
	if depth := o.OutboxDepth; depth != nil {
		s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: MetricOutboxDepth,
			Help: "Slack messages waiting in the outbox."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := depth(ctx)
			if err != nil {
				return math.NaN() // unknown, not zero
			}
			return float64(n)
		}))
	}
	if o.Process {
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return s
}

// Name returns "prometheus".
func (s *Sink) Name() string { return Name }

// Observe counts the run and sets the check's gauges and histogram. It
// never fails.
func (s *Sink) Observe(_ context.Context, e engine.Event) error {
	r := e.Result
	kind := r.Kind
	if kind == "" {
		kind = e.Check.Kind
	}
	id := e.Check.ID
	s.runs.WithLabelValues(id, kind, string(r.Status)).Inc()
	up := 0.0
	if r.Status.Up() {
		up = 1
	}
	s.up.WithLabelValues(id).Set(up)
	s.violations.WithLabelValues(id).Set(float64(r.Violations))
	s.duration.WithLabelValues(id).Observe(runDuration(r).Seconds())
	return nil
}

func runDuration(r checks.Result) time.Duration {
	return max(r.Duration, 0)
}

// SchedulerTick counts a skipped tick and observes a scheduled run's lag;
// its signature fits scheduler.Options.OnTick.
func (s *Sink) SchedulerTick(t scheduler.Tick) {
	switch {
	case t.Outcome == scheduler.Skipped:
		s.skipped.WithLabelValues(t.Job).Inc()
	case t.Outcome == scheduler.Started && !t.Manual:
		s.lag.Observe(max(t.Lag(), 0).Seconds())
	}
}

// SinkError counts a sink's failure; its signature fits
// engine.Options.OnSinkError.
func (s *Sink) SinkError(sink string, _ error) {
	s.sinkErrors.WithLabelValues(sink).Inc()
}

// Handler serves the metrics in the text exposition format.
func (s *Sink) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
}

// Gatherer exposes the registry (for tests and other handlers).
func (s *Sink) Gatherer() prometheus.Gatherer { return s.reg }
