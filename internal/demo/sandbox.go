package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/scheduler"
	"github.com/vigilhq/vigil/runbooks"
)

// The sandbox's queues and the datasource that reads them.
const (
	SourceQueue     = "policy-events"
	DeadLetterQueue = "policy-events-dlq"
	QueuesSource    = "queues" // the config's sqs datasource
	ConfigFile      = "vigil.yaml"
)

// Scenario names beyond the data scenarios of Scenarios.
const (
	ScenarioDLQFilling     = "dlq-filling"
	ScenarioSlowAPI        = "slow-api"
	ScenarioStaleWarehouse = "stale-warehouse" // also stalls the landing zone
)

// catalog is every scenario the sandbox injects, in the order the trainer
// sees them. The data scenarios come from Scenarios.
var catalog = []Scenario{
	withRunbook(Scenarios["reissue-missing-copy"], "missing-endorsements"),
	withRunbook(Scenarios["double-write"], "duplicate-documents"),
	withRunbook(Scenarios["out-of-order-status"], "status-transitions"),
	{Name: ScenarioDLQFilling, Runbook: "dlq-depth", Check: "policy-events-dlq",
		Description: "A bad deploy of the policy-events consumer rejects every message: the dead-letter queue fills up."},
	withRunbook(Scenarios["stale-warehouse"], "warehouse-freshness"),
	{Name: ScenarioSlowAPI, Runbook: "api-latency", Check: "quote-api",
		Description: "The quote API's rating upstream hangs: calls take seconds and end in 504 Gateway Timeout."},
}

func withRunbook(s Scenario, runbook string) Scenario {
	s.Runbook = runbook
	return s
}

// Catalog returns every scenario the sandbox can inject, in display order.
func Catalog() []Scenario { return slices.Clone(catalog) }

// CatalogNames returns the names of Catalog, in display order.
func CatalogNames() []string {
	names := make([]string, len(catalog))
	for i, s := range catalog {
		names[i] = s.Name
	}
	return names
}

// Lookup returns the catalog's scenario with that name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range catalog {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// ErrUnknownScenario is returned for a name not in Catalog.
var ErrUnknownScenario = errors.New("unknown scenario")

// User is a demo login.
type User struct {
	Name, Password, Role string
}

// DemoUsers are the sandbox's logins, one per role. Their passwords are
// printed at start-up: the sandbox holds nothing worth protecting.
var DemoUsers = []User{
	{Name: "trainee", Password: "trainee-demo", Role: "viewer"},
	{Name: "oncall", Password: "oncall-demo", Role: "operator"},
	{Name: "trainer", Password: "trainer-demo", Role: "admin"},
}

// SandboxOptions configure Start. Only Dir and HashPassword are required.
type SandboxOptions struct {
	// Dir is the folder the sandbox writes its files to (config, policy
	// database, store, runbooks); it should be empty.
	Dir string
	// Listen and BaseURL go to the config's server section (defaults
	// 127.0.0.1:8080 and http://<Listen>).
	Listen, BaseURL string
	// HashPassword hashes the demo users' passwords for the config
	// (web.HashPassword).
	HashPassword func(string) (string, error)
	// Policies is how many policies are seeded (default 3000).
	Policies int
	// Schedule is every check's schedule (default "@every 5s").
	Schedule string
	// SlowLatency is how long the quote API takes while slow-api is
	// injected (default 1.5s; the check warns over 800ms).
	SlowLatency time.Duration
	// TrafficEvery is how often policy events are produced and consumed
	// (default 1s).
	TrafficEvery time.Duration
	// LandEvery is how often the extracts land a file in the landing zone
	// (default 10m; the landing-freshness check warns after 1h).
	LandEvery time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives what the sandbox does; discarded when nil.
	Logger *slog.Logger
}

//go:embed sandbox.yaml.tmpl
var configTemplate string

//go:embed example/rules.yaml
var rulesYAML []byte

// Sandbox is the running training sandbox: the seeded policy database, the
// in-process SQS fake and quote API, the captured signals, the scenarios
// and the exercises. Its methods are safe for concurrent use.
type Sandbox struct {
	opts    SandboxOptions
	log     *slog.Logger
	now     func() time.Time
	cfgPath string
	db      *sql.DB // the sandbox's own read-write connection to policies.db
	sqs     *FakeSQS
	client  *sqs.Client
	s3      *FakeS3
	quote   *quoteAPI
	signals *Signals

	bgCtx context.Context // ends at Close
	stop  context.CancelFunc
	bg    sync.WaitGroup

	change sync.Mutex // one Inject, Clear or Reset at a time

	mu      sync.Mutex
	runs    map[string]*scenarioRun // by scenario, since the last Reset
	views   []view
	records Records
	runNow  func(checkID string) error
	traffic int

	landedAt time.Time    // the last landing (landing.go)
	held     []FakeObject // what stale-warehouse removed from the landing zone
}

// scenarioRun is one injection of a scenario: the exercise's window.
type scenarioRun struct {
	injectedAt, clearedAt time.Time
	clues                 []string // what a diagnosis names (exercise.go)
}

func (r *scenarioRun) active() bool { return r != nil && r.clearedAt.IsZero() }

// Start builds the sandbox in opts.Dir: it seeds the policy database,
// starts the SQS fake, the quote API and the signal capture on loopback
// ports, writes the runbooks and the config file (ConfigPath), and starts
// the policy-events traffic. Close stops it all. Errors name the step
// that failed.
func Start(ctx context.Context, opts SandboxOptions) (_ *Sandbox, err error) {
	if opts.Dir == "" || opts.HashPassword == nil {
		return nil, errors.New("demo: start: Dir and HashPassword are required")
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8080"
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "http://" + opts.Listen
	}
	if opts.Schedule == "" {
		opts.Schedule = "@every 5s"
	}
	if opts.SlowLatency <= 0 {
		opts.SlowLatency = 1500 * time.Millisecond
	}
	if opts.TrafficEvery <= 0 {
		opts.TrafficEvery = time.Second
	}
	if opts.LandEvery <= 0 {
		opts.LandEvery = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sandbox{opts: opts, log: opts.Logger, now: opts.Now, cfgPath: filepath.Join(opts.Dir, ConfigFile), runs: map[string]*scenarioRun{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s.db, err = sql.Open("sqlite", "file:"+filepath.Join(opts.Dir, "policies.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("demo: start: open policy database: %w", err)
	}
	s.db.SetMaxOpenConns(1)
	if err := Seed(ctx, s.db, Options{Policies: opts.Policies, Now: s.now()}); err != nil {
		return nil, fmt.Errorf("demo: start: %w", err)
	}
	if s.sqs, err = StartFakeSQS(s.now); err != nil {
		return nil, err
	}
	s.client = s.sqs.Client()
	s.sqs.CreateQueue(DeadLetterQueue, map[string]string{"MessageRetentionPeriod": "1209600"})
	s.sqs.CreateQueue(SourceQueue, map[string]string{
		"MessageRetentionPeriod": "345600",
		"RedrivePolicy":          fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"5"}`, s.sqs.ARN(DeadLetterQueue)),
	})
	if s.s3, err = StartFakeS3(); err != nil {
		return nil, err
	}
	s.seedLanding(s.now())
	if s.quote, err = startQuoteAPI(opts.SlowLatency); err != nil {
		return nil, err
	}
	if s.signals, err = startSignals(s.now); err != nil {
		return nil, err
	}
	if err := s.writeFiles(); err != nil {
		return nil, err
	}

	s.bgCtx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	s.bg.Go(func() { s.trafficLoop(s.bgCtx) })
	return s, nil
}

// writeFiles writes the runbooks, the rules file and the config.
func (s *Sandbox) writeFiles() error {
	dir := filepath.Join(s.opts.Dir, "runbooks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: write runbooks: %w", err)
	}
	names, err := fs.Glob(runbooks.FS, "*.md")
	if err != nil {
		return fmt.Errorf("demo: write runbooks: %w", err)
	}
	for _, n := range names {
		b, err := runbooks.FS.ReadFile(n)
		if err != nil {
			return fmt.Errorf("demo: write runbooks: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			return fmt.Errorf("demo: write runbooks: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, "rules.yaml"), rulesYAML, 0o644); err != nil {
		return fmt.Errorf("demo: write rules: %w", err)
	}
	// The script log's key, as an operator makes one (head -c 32
	// /dev/urandom): the sandbox has auth, and vigil serve then requires it.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("demo: make the script log's key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.opts.Dir, "vigil-scriptlog.key"), key, 0o600); err != nil {
		return fmt.Errorf("demo: write the script log's key: %w", err)
	}

	type user struct{ Name, Role, Hash string }
	data := struct {
		Listen, BaseURL, Schedule, SQSEndpoint, DatadogAddr, SentryDSN, SlackWebhookURL, QuoteURL, DLQ string
		S3Endpoint, Bucket                                                                             string
		Users                                                                                          []user
	}{
		Listen: s.opts.Listen, BaseURL: s.opts.BaseURL, Schedule: s.opts.Schedule,
		SQSEndpoint: s.sqs.Endpoint(), DatadogAddr: s.signals.DatadogAddr(), SentryDSN: s.signals.SentryDSN(),
		SlackWebhookURL: s.signals.SlackWebhookURL(), QuoteURL: s.quote.url(), DLQ: DeadLetterQueue,
		S3Endpoint: s.s3.Endpoint(), Bucket: LandingBucket,
	}
	for _, u := range DemoUsers {
		h, err := s.opts.HashPassword(u.Password)
		if err != nil {
			return fmt.Errorf("demo: hash the password of %s: %w", u.Name, err)
		}
		data.Users = append(data.Users, user{Name: u.Name, Role: u.Role, Hash: h})
	}
	var b bytes.Buffer
	if err := template.Must(template.New("config").Option("missingkey=error").Parse(configTemplate)).Execute(&b, data); err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	if err := os.WriteFile(s.cfgPath, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	return nil
}

// ConfigPath is the sandbox's vigil.yaml; load it with config.Load.
func (s *Sandbox) ConfigPath() string { return s.cfgPath }

// Dir is the folder holding the sandbox's files.
func (s *Sandbox) Dir() string { return s.opts.Dir }

// BaseURL is the dashboard's URL as the config names it.
func (s *Sandbox) BaseURL() string { return s.opts.BaseURL }

// Users returns the demo logins, one per role.
func (s *Sandbox) Users() []User { return slices.Clone(DemoUsers) }

// Signals is the in-process capture of Datadog, Sentry and Slack.
func (s *Sandbox) Signals() *Signals { return s.signals }

// SQS is the in-process SQS fake.
func (s *Sandbox) SQS() *FakeSQS { return s.sqs }

// Queues returns the SQS datasources to use instead of opening the
// config's (by datasource name): a client of the fake with static demo
// credentials that dials loopback only.
func (s *Sandbox) Queues() map[string]*datasource.SQS {
	return map[string]*datasource.SQS{QueuesSource: datasource.NewSQS(QueuesSource, s.client)}
}

// SentryTransport is the transport the Sentry client must use: events are
// captured in Signals and never sent.
func (s *Sandbox) SentryTransport() sentry.Transport { return s.signals.SentryTransport() }

// Attach connects the sandbox to the running server: records are read for
// the exercises' progress, and runNow (nil for none) runs a check at once
// after a scenario is injected or cleared, so nobody waits for the next tick.
func (s *Sandbox) Attach(records Records, runNow func(checkID string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records, s.runNow = records, runNow
}

// Close stops the traffic, the servers and the capture, and closes the
// policy database. It does not remove Dir.
func (s *Sandbox) Close() error {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	var errs []error
	if s.quote != nil {
		errs = append(errs, s.quote.close())
	}
	if s.sqs != nil {
		errs = append(errs, s.sqs.Close())
	}
	if s.s3 != nil {
		errs = append(errs, s.s3.Close())
	}
	if s.signals != nil {
		errs = append(errs, s.signals.close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// ScenarioState is a scenario with whether it is injected now.
type ScenarioState struct {
	Scenario
	Active     bool
	InjectedAt time.Time // zero when not injected since the last Reset
	ClearedAt  time.Time // zero while active
}

// Scenarios returns every scenario with its state, in display order.
func (s *Sandbox) Scenarios() []ScenarioState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ScenarioState, 0, len(catalog))
	for _, sc := range catalog {
		st := ScenarioState{Scenario: sc}
		if r := s.runs[sc.Name]; r != nil {
			st.Active, st.InjectedAt, st.ClearedAt = r.active(), r.injectedAt, r.clearedAt
		}
		out = append(out, st)
	}
	return out
}

// Active returns the names of the injected scenarios, in display order.
func (s *Sandbox) Active() []string {
	var out []string
	for _, st := range s.Scenarios() {
		if st.Active {
			out = append(out, st.Name)
		}
	}
	return out
}

// Inject breaks the sandbox the way the named scenario says and starts its
// exercise; injecting an active scenario changes nothing. Its check fails
// at its next run (run at once when Attach gave runNow). Errors:
// ErrUnknownScenario (the message lists the known names), or the step
// that failed.
func (s *Sandbox) Inject(ctx context.Context, name string) error {
	sc, err := s.lookup(name)
	if err != nil {
		return err
	}
	s.change.Lock()
	defer s.change.Unlock()
	s.mu.Lock()
	if s.runs[name].active() {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// The run starts before the damage: a scheduled run may see it at once,
	// and the traffic loop must fail events from now on.
	run := &scenarioRun{injectedAt: s.now()}
	s.mu.Lock()
	s.runs[name] = run
	s.mu.Unlock()
	if err := s.damage(ctx, name); err != nil {
		s.mu.Lock()
		delete(s.runs, name)
		s.mu.Unlock()
		return err
	}
	clues, err := s.clues(ctx, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	run.clues = clues
	s.mu.Unlock()
	s.log.Info("demo: scenario injected", "scenario", name, "check", sc.Check)
	s.kick(sc.Check)
	return nil
}

// damage applies a scenario.
func (s *Sandbox) damage(ctx context.Context, name string) error {
	switch name {
	case ScenarioSlowAPI:
		s.quote.slow.Store(true)
	case ScenarioDLQFilling:
		// The broken consumer has been failing for a while already.
		if err := s.produce(ctx, 40); err != nil {
			return fmt.Errorf("demo: inject %s: %w", name, err)
		}
		s.sqs.FailAll(SourceQueue)
	case ScenarioStaleWarehouse:
		s.stallLanding(s.now())
		return Inject(ctx, s.db, name)
	default:
		return Inject(ctx, s.db, name)
	}
	return nil
}

// Clear undoes the named scenario: the data is repaired, the consumer rolled
// back and the DLQ redriven, or the API fast again. Its check passes at its
// next run. Clearing a scenario that is not active repairs anything left
// over and changes nothing else. Errors: ErrUnknownScenario, or the step
// that failed.
func (s *Sandbox) Clear(ctx context.Context, name string) error {
	sc, err := s.lookup(name)
	if err != nil {
		return err
	}
	s.change.Lock()
	defer s.change.Unlock()
	s.mu.Lock()
	r := s.runs[name]
	wasActive := r.active()
	if wasActive {
		r.clearedAt = s.now() // for dlq-filling: the consumer is rolled back first
	}
	s.mu.Unlock()
	if err := s.repair(ctx, name); err != nil {
		return err
	}
	if wasActive {
		s.log.Info("demo: scenario cleared", "scenario", name, "check", sc.Check)
		s.kick(sc.Check)
	}
	return nil
}

// repair undoes a scenario's damage.
func (s *Sandbox) repair(ctx context.Context, name string) error {
	switch name {
	case ScenarioSlowAPI:
		s.quote.slow.Store(false)
	case ScenarioDLQFilling:
		if s.sqs.Depth(DeadLetterQueue) == 0 {
			return nil
		}
		_, err := sqsdlq.Redrive(ctx, s.client, sqsdlq.RedriveOptions{Queue: DeadLetterQueue, Rate: sqsdlq.MaxRedriveRate, PollInterval: 50 * time.Millisecond, Now: s.now}, nil)
		if err != nil {
			return fmt.Errorf("demo: clear %s: %w", name, err)
		}
		s.sqs.Process(SourceQueue)
	case ScenarioStaleWarehouse:
		s.resumeLanding(s.now())
		return Clear(ctx, s.db, name)
	default:
		return Clear(ctx, s.db, name)
	}
	return nil
}

// Reset clears every scenario and forgets the exercises' progress and the
// captured signals, for the next training session.
func (s *Sandbox) Reset(ctx context.Context) error {
	var errs []error
	for _, name := range CatalogNames() {
		errs = append(errs, s.Clear(ctx, name))
	}
	s.change.Lock()
	defer s.change.Unlock()
	s.mu.Lock()
	s.runs = map[string]*scenarioRun{}
	s.views = nil
	s.mu.Unlock()
	s.signals.Clear()
	return errors.Join(errs...)
}

func (s *Sandbox) lookup(name string) (Scenario, error) {
	sc, ok := Lookup(name)
	if !ok {
		return Scenario{}, fmt.Errorf("demo: %w %q (known: %s)", ErrUnknownScenario, name, strings.Join(CatalogNames(), ", "))
	}
	return sc, nil
}

// kick runs the check now when the server is attached, in the background:
// when a run is already going (it may have read the data before the
// change), it tries again until that run ends.
func (s *Sandbox) kick(checkID string) {
	s.mu.Lock()
	runNow := s.runNow
	s.mu.Unlock()
	if runNow == nil {
		return
	}
	s.bg.Go(func() {
		for range 40 {
			err := runNow(checkID)
			if !errors.Is(err, scheduler.ErrRunning) {
				if err != nil {
					s.log.Debug("demo: run now", "check", checkID, "err", err)
				}
				return
			}
			select {
			case <-s.bgCtx.Done():
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	})
}

// trafficLoop produces policy events and plays their consumer: healthy, it
// processes them; during dlq-filling, it fails them into the DLQ.
func (s *Sandbox) trafficLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.TrafficEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.produce(ctx, 4); err != nil && ctx.Err() == nil {
			s.log.Warn("demo: produce policy events", "err", err)
		}
		s.mu.Lock()
		broken := s.runs[ScenarioDLQFilling].active()
		stalled := s.runs[ScenarioStaleWarehouse].active()
		s.mu.Unlock()
		s.land(s.now(), stalled)
		if broken {
			s.sqs.FailAll(SourceQueue)
		} else {
			s.sqs.Process(SourceQueue)
		}
	}
}

// produce sends n policy events to the source queue through the SQS API.
func (s *Sandbox) produce(ctx context.Context, n int) error {
	url := s.sqs.Endpoint() + "/" + FakeAccount + "/" + SourceQueue
	for range n {
		s.mu.Lock()
		s.traffic++
		body := fmt.Sprintf(`{"event":"policy.issued","policy_id":"P-%05d"}`, s.traffic%3000+1)
		s.mu.Unlock()
		if _, err := s.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			return fmt.Errorf("send message: %w", err)
		}
	}
	return nil
}
