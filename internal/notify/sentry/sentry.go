// Package sentry is the Sentry sink (sentry-go). For each recorded run it
// sends:
//
//   - on status error, an exception event fingerprinted [check-id, "error"],
//     so a broken check is one Sentry issue apart from its data failures;
//   - when the run opened an incident that is not silenced, one event
//     fingerprinted [check-id], with the sample (up to 50 violations) as the
//     "sample" context and the runbook and dashboard links as the "links"
//     context;
//   - a cron check-in: ok when the check ran (pass, warn or fail: the job
//     did its work; a data failure is the incident's business) and error when
//     it could not (status error). The wiring calls CheckIn with in_progress
//     before the run, and the sink closes that check-in after it, so Sentry
//     notices a check that stops running or runs past its timeout. Each
//     check-in carries a monitor config derived from the check's schedule and
//     timeout (MonitorConfig), so monitors create themselves.
//
// Events stay inside Sentry's size limits (see MaxSampleBytes): each
// sample key and detail is cut on a character boundary and marked
// ("… (cut 24 KB)"), the sample holds as many violations as fit (the
// context's "omitted" counts the others), and the error text is cut too.
//
// The sink uses the *sentry.Client it is given, never the global hub. Give
// that client BeforeSend (see ClientOptions) so DSNs, tokens and passwords
// never leave the process.
package sentry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/engine"
)

// Name is the sink's name.
const Name = "sentry"

// DefaultCheckInMargin is how many minutes late a check-in may be before
// Sentry counts it missed (the scheduler's start-up jitter fits in it).
const DefaultCheckInMargin = 5

// SubMinuteCheckInMargin is the check-in margin, in minutes, of a check
// that runs more often than once a minute: its monitor's interval is
// Sentry's minimum (1 minute), so Sentry notices a stopped vigil within 2
// minutes.
const SubMinuteCheckInMargin = 1

// MinCheckInSpacing is the shortest time between two check-ins of one
// check that the sink sends: a run that starts sooner after the last
// check-in sent (a check on "@every 5s", a manual run) sends none. Sentry
// accepts at most 6 check-ins a minute per monitor and drops the rest
// (https://docs.sentry.io/product/crons/); a pair every 30 s is 4.
const MinCheckInSpacing = 30 * time.Second

// ErrNotSent is returned when the client dropped an event (disabled client,
// sampling or BeforeSend).
var ErrNotSent = errors.New("sentry: event not sent")

// Options configure New.
type Options struct {
	// BaseURL is the dashboard's base URL (server.base_url): events link to
	// <base>/checks/<id> and <base>/runbooks/<runbook>.
	BaseURL string
	// CheckInMargin is the monitors' check-in margin in minutes
	// (DefaultCheckInMargin when 0).
	CheckInMargin int64
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Sink sends events and check-ins to Sentry through one client. Its
// methods are safe for concurrent use.
type Sink struct {
	client *sentry.Client
	o      Options

	mu      sync.Mutex
	pending map[string]sentry.EventID // check id -> its in_progress check-in
	last    map[string]time.Time      // check id -> when its last check-in was sent
}

// New returns a sink that sends through client.
func New(client *sentry.Client, o Options) *Sink {
	if o.CheckInMargin <= 0 {
		o.CheckInMargin = DefaultCheckInMargin
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Sink{client: client, o: o, pending: map[string]sentry.EventID{}, last: map[string]time.Time{}}
}

// ClientOptions returns the options vigil's Sentry client is made with:
// the DSN, the environment, BeforeSend scrubbing secrets, transport (nil
// for sentry-go's default), and an HTTP transport that gzip-compresses
// every envelope.
func ClientOptions(dsn, environment string, transport sentry.Transport) sentry.ClientOptions {
	return sentry.ClientOptions{Dsn: dsn, Environment: environment, Transport: transport, BeforeSend: BeforeSend,
		HTTPTransport: gzipTransport{base: http.DefaultTransport}}
}

// Name returns "sentry".
func (s *Sink) Name() string { return Name }

// Observe sends the run's events and closes its check-in (see the package
// comment). It returns ErrNotSent (joined for each event) when the client
// dropped an event.
func (s *Sink) Observe(_ context.Context, e engine.Event) error {
	var errs []error
	r := e.Result
	if r.Status == checks.Error {
		errs = append(errs, s.capture(s.errorEvent(e), "error event"))
	}
	if e.Transition.Kind == engine.Opened && !e.Silenced {
		errs = append(errs, s.capture(s.openedEvent(e), "incident event"))
	}
	status := sentry.CheckInStatusOK
	if r.Status == checks.Error {
		status = sentry.CheckInStatusError
	}
	errs = append(errs, s.checkIn(e.Check, status, r.Duration))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sentry: observe %s: %w", e.Check.ID, err)
	}
	return nil
}

// CheckIn sends a check-in for the check with status. Call it with
// sentry.CheckInStatusInProgress just before a run starts; Observe closes
// that check-in with ok or error. A run that starts within
// MinCheckInSpacing of the check's last check-in sends none, and Observe
// then sends none for it either. Runs of one check must not overlap (the
// scheduler guarantees it). It returns ErrNotSent when the client dropped
// the check-in, or an error for a schedule it cannot describe.
func (s *Sink) CheckIn(_ context.Context, check engine.CheckInfo, status sentry.CheckInStatus) error {
	if err := s.checkIn(check, status, 0); err != nil {
		return fmt.Errorf("sentry: check-in %s: %w", check.ID, err)
	}
	return nil
}

func (s *Sink) checkIn(check engine.CheckInfo, status sentry.CheckInStatus, d time.Duration) error {
	cfg, err := MonitorConfig(check, s.o.CheckInMargin)
	if err != nil {
		return err
	}
	in := &sentry.CheckIn{MonitorSlug: Slug(check.ID), Status: status}
	now := s.o.Now()
	s.mu.Lock()
	open, isOpen := s.pending[check.ID]
	delete(s.pending, check.ID)
	if status == sentry.CheckInStatusInProgress || !isOpen {
		// A new check-in (a run's start, or the result of a run whose
		// start was not checked in): only when spaced from the last one.
		if last, ok := s.last[check.ID]; ok && now.Sub(last) < MinCheckInSpacing {
			s.mu.Unlock()
			return nil
		}
		s.last[check.ID] = now
		in.ID = newID()
		if status == sentry.CheckInStatusInProgress {
			s.pending[check.ID] = in.ID
		}
	} else {
		in.ID = open
	}
	if status != sentry.CheckInStatusInProgress {
		in.Duration = d
	}
	s.mu.Unlock()
	if s.client.CaptureCheckIn(in, cfg, nil) == nil {
		return ErrNotSent
	}
	return nil
}

// newID is a random check-in id (32 hex digits).
func newID() sentry.EventID {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return sentry.EventID(hex.EncodeToString(b[:]))
}

func (s *Sink) capture(ev *sentry.Event, what string) error {
	if s.client.CaptureEvent(ev, nil, nil) == nil {
		return fmt.Errorf("%s: %w", what, ErrNotSent)
	}
	return nil
}

// errorEvent is the exception event of a run that could not run.
func (s *Sink) errorEvent(e engine.Event) *sentry.Event {
	ev := s.base(e, sentry.LevelError)
	text := cut(e.Result.Error, MaxTextBytes)
	if text == "" {
		text = "the check could not run"
	}
	ev.Message = fmt.Sprintf("%s could not run: %s", e.Check.ID, text)
	ev.Exception = []sentry.Exception{{Type: "CheckError", Value: text, Module: e.Result.Kind}}
	ev.Fingerprint = []string{e.Check.ID, "error"}
	return ev
}

// openedEvent is the event of an incident that opened.
func (s *Sink) openedEvent(e engine.Event) *sentry.Event {
	r, inc := e.Result, e.Transition.Incident
	ev := s.base(e, sentry.LevelError)
	what := fmt.Sprintf("failing with %d violation(s)", r.Violations)
	if inc.CheckBroken() {
		what = "broken (could not run)"
	}
	ev.Message = fmt.Sprintf("Incident opened: %s is %s", e.Check.ID, what)
	ev.Fingerprint = []string{e.Check.ID}
	ev.Contexts["sample"] = sampleContext(r.Violations, r.Sample)
	ev.Contexts["incident"] = sentry.Context{"id": inc.ID, "since": inc.Since, "opened_at": inc.OpenedAt, "opened_status": string(inc.OpenedStatus)}
	ev.Tags["incident"] = fmt.Sprint(inc.ID)
	return ev
}

// base is an event about a run: tags, the check context and the links.
func (s *Sink) base(e engine.Event, level sentry.Level) *sentry.Event {
	c, r := e.Check, e.Result
	ev := sentry.NewEvent()
	ev.Level = level
	ev.Logger = "vigil"
	ev.Transaction = c.ID
	ev.Timestamp = r.StartedAt
	ev.Tags = map[string]string{"check": cutRunes(c.ID, MaxTagRunes), "kind": r.Kind, "status": string(r.Status)}
	if c.Owner != "" {
		ev.Tags["owner"] = cutRunes(c.Owner, MaxTagRunes)
	}
	for _, t := range c.Tags {
		if team, ok := strings.CutPrefix(t, "team:"); ok && team != "" {
			ev.Tags["team"] = cutRunes(team, MaxTagRunes)
			break
		}
	}
	ev.Contexts = map[string]sentry.Context{
		"check": {"id": c.ID, "kind": r.Kind, "owner": c.Owner, "runbook": c.Runbook, "schedule": c.Schedule,
			"tags": c.Tags, "run_id": e.RunID, "status": string(r.Status), "violations": r.Violations,
			"duration_ms": r.Duration.Milliseconds()},
	}
	links := sentry.Context{}
	if u := s.link("checks", c.ID); u != "" {
		links["dashboard"] = u
	}
	if u := s.link("runbooks", c.Runbook); u != "" && c.Runbook != "" {
		links["runbook"] = u
	}
	if len(links) > 0 {
		ev.Contexts["links"] = links
	}
	return ev
}

func (s *Sink) link(section, name string) string {
	if s.o.BaseURL == "" || name == "" {
		return ""
	}
	return strings.TrimRight(s.o.BaseURL, "/") + "/" + section + "/" + url.PathEscape(name)
}

// Flush waits up to timeout for queued events to be sent and reports
// whether all were.
func (s *Sink) Flush(timeout time.Duration) bool { return s.client.Flush(timeout) }

// Slug is the Sentry monitor slug of a check: its id, cut to Sentry's 50
// characters.
func Slug(checkID string) string {
	if len(checkID) > 50 {
		return checkID[:50]
	}
	return checkID
}

// MonitorConfig describes a check's schedule to Sentry: "@every D" is an
// interval in whole minutes, rounded up (hours or days when D divides
// evenly; at least 1 minute, Sentry's shortest); a cron expression (5
// fields, or 6 with seconds, which are dropped) or descriptor (@hourly,
// @daily, ...) is a crontab, and a CRON_TZ= or TZ= prefix is the timezone.
// MaxRuntime is the timeout in whole minutes plus one (for recording);
// margin is the check-in margin, except for "@every D" under a minute,
// whose margin is SubMinuteCheckInMargin. An empty schedule is vigil's
// default "@every 5m".
func MonitorConfig(check engine.CheckInfo, margin int64) (*sentry.MonitorConfig, error) {
	spec := strings.TrimSpace(check.Schedule)
	if spec == "" {
		spec = "@every 5m"
	}
	cfg := &sentry.MonitorConfig{CheckInMargin: margin}
	if check.Timeout > 0 {
		cfg.MaxRuntime = int64(math.Ceil(check.Timeout.Minutes())) + 1
	}
	if rest, ok := cutTZ(spec); ok {
		tz, expr, _ := strings.Cut(rest, " ")
		cfg.Timezone, spec = tz, strings.TrimSpace(expr)
	}
	if every, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("sentry: schedule %q: not a duration", check.Schedule)
		}
		cfg.Schedule = interval(d)
		if d < time.Minute {
			cfg.CheckInMargin = SubMinuteCheckInMargin
		}
		return cfg, nil
	}
	if cron, ok := descriptors[spec]; ok {
		cfg.Schedule = sentry.CrontabSchedule(cron)
		return cfg, nil
	}
	fields := strings.Fields(spec)
	switch len(fields) {
	case 5:
	case 6:
		fields = fields[1:]
	default:
		return nil, fmt.Errorf("sentry: schedule %q: want 5 cron fields", check.Schedule)
	}
	cfg.Schedule = sentry.CrontabSchedule(strings.Join(fields, " "))
	return cfg, nil
}

func cutTZ(spec string) (string, bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(spec, p); ok {
			return rest, true
		}
	}
	return "", false
}

var descriptors = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

func interval(d time.Duration) sentry.MonitorSchedule {
	mins := max(int64(math.Ceil(d.Minutes())), 1)
	switch {
	case mins%(24*60) == 0:
		return sentry.IntervalSchedule(mins/(24*60), sentry.MonitorScheduleUnitDay)
	case mins%60 == 0:
		return sentry.IntervalSchedule(mins/60, sentry.MonitorScheduleUnitHour)
	}
	return sentry.IntervalSchedule(mins, sentry.MonitorScheduleUnitMinute)
}

// BeforeSend scrubs secrets from an event before it leaves the process:
// DSN passwords and keys, tokens, webhook URLs and secret-named values in
// the message, exceptions, tags, contexts, breadcrumbs and the
// request (whose Authorization and Cookie headers and cookies are removed).
// Its signature fits sentry.ClientOptions.BeforeSend.
func BeforeSend(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	if ev == nil {
		return nil
	}
	ev.Message = scrub(ev.Message)
	ev.Transaction = scrub(ev.Transaction)
	for i := range ev.Exception {
		ev.Exception[i].Value = scrub(ev.Exception[i].Value)
	}
	for k, v := range ev.Tags {
		ev.Tags[k] = scrubNamed(k, v)
	}
	for name, c := range ev.Contexts {
		ev.Contexts[name] = scrubMap(c)
	}
	for _, b := range ev.Breadcrumbs {
		if b != nil {
			b.Message = scrub(b.Message)
			b.Data = scrubMap(b.Data)
		}
	}
	if r := ev.Request; r != nil {
		r.URL, r.QueryString, r.Data, r.Cookies = scrub(r.URL), scrub(r.QueryString), scrub(r.Data), ""
		for k, v := range r.Headers {
			switch strings.ToLower(k) {
			case "authorization", "cookie", "proxy-authorization", "x-api-key", "x-csrf-token":
				delete(r.Headers, k)
			default:
				r.Headers[k] = scrubNamed(k, v)
			}
		}
	}
	return ev
}

func scrub(s string) string { return datasource.RedactSecrets(s) }

// scrubNamed masks the whole value of a secret-named key and scrubs others.
func scrubNamed(key, v string) string {
	if secretKey(key) {
		return "xxxxx"
	}
	return scrub(v)
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "api_key", "apikey", "dsn", "webhook", "authorization", "cookie", "private_key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func scrubMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k, v := range out {
		if secretKey(k) {
			if _, isStr := v.(string); isStr || v == nil {
				out[k] = "xxxxx"
				continue
			}
		}
		out[k] = scrubValue(v)
	}
	return out
}

func scrubValue(v any) any {
	switch x := v.(type) {
	case string:
		return scrub(x)
	case map[string]any:
		return scrubMap(x)
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, s := range x {
			out[k] = scrubNamed(k, s)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrubValue(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = scrub(e)
		}
		return out
	}
	return v
}
