package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/duplicates"
	"github.com/vigilhq/vigil/checks/endorsements"
	"github.com/vigilhq/vigil/checks/freshness"
	httpcheck "github.com/vigilhq/vigil/checks/http"
	"github.com/vigilhq/vigil/checks/s3freshness"
	"github.com/vigilhq/vigil/checks/sqlrows"
	"github.com/vigilhq/vigil/checks/sqsdlq"
	"github.com/vigilhq/vigil/checks/transitions"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/datasource"
	"github.com/vigilhq/vigil/internal/runbook"
	"github.com/vigilhq/vigil/internal/store"
)

// kinds is every check kind vigil knows. Adding a kind means adding it here.
func kinds() checks.Registry {
	return checks.NewRegistry(
		endorsements.Kind,
		duplicates.Kind,
		transitions.Kind,
		freshness.Kind,
		sqlrows.Kind,
		sqsdlq.Kind,
		httpcheck.Kind,
		s3freshness.Kind,
	)
}

// loadConfig loads path (-c; when empty, $VIGIL_CONFIG, else ./vigil.yaml)
// and prints every problem to stderr.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	path, err := configPath(path, os.LookupEnv, os.Stat)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return nil, false
	}
	cfg, err := config.Load(path, kinds())
	if err != nil {
		fmt.Fprintln(stderr, strings.TrimRight(err.Error(), "\n"))
		return nil, false
	}
	return cfg, true
}

// loadRunbooks reads the config's runbooks folder and returns the problems
// found when cross-checking it with the configured checks.
func loadRunbooks(cfg *config.Config) (runbook.Set, []runbook.Problem, error) {
	set, err := runbook.LoadFS(os.DirFS(cfg.RunbooksDir), cfg.RunbooksDir)
	if err != nil {
		return set, nil, err
	}
	refs := make([]runbook.CheckRef, 0, len(cfg.Checks))
	for _, c := range cfg.Checks {
		refs = append(refs, runbook.CheckRef{ID: c.ID, Runbook: c.Runbook, File: cfg.Path, Line: c.Line})
	}
	return set, set.Validate(refs), nil
}

// cliLogger is the logger of a one-shot command: warnings and errors, as
// text on stderr.
func cliLogger(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// sources opens each datasource once, on first use, and closes them all.
type sources struct {
	cfg     *config.Config
	log     *slog.Logger      // receives the AWS SDK's own log lines
	http    http.RoundTripper // the http checks' shared connection pool
	mu      sync.Mutex
	sqls    map[string]*datasource.SQL
	queues  map[string]*datasource.SQS
	buckets map[string]*datasource.S3
}

func newSources(cfg *config.Config, logger *slog.Logger) *sources {
	return &sources{cfg: cfg, log: logger, http: httpcheck.NewTransport(), sqls: map[string]*datasource.SQL{}, queues: map[string]*datasource.SQS{}, buckets: map[string]*datasource.S3{}}
}

func (s *sources) s3(ctx context.Context, name string) (*datasource.S3, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[name]; ok {
		return b, nil
	}
	ds, ok := s.cfg.Datasources[name]
	if !ok {
		return nil, fmt.Errorf("unknown datasource %q", name)
	}
	b, err := datasource.OpenS3(ctx, name, ds.Region, ds.Endpoint, s.log)
	if err != nil {
		return nil, err
	}
	s.buckets[name] = b
	return b, nil
}

func (s *sources) sqs(ctx context.Context, name string) (*datasource.SQS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.queues[name]; ok {
		return q, nil
	}
	ds, ok := s.cfg.Datasources[name]
	if !ok {
		return nil, fmt.Errorf("unknown datasource %q", name)
	}
	q, err := datasource.OpenSQS(ctx, name, ds.Region, ds.Endpoint, s.log)
	if err != nil {
		return nil, err
	}
	s.queues[name] = q
	return q, nil
}

func (s *sources) sql(name string) (*datasource.SQL, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if db, ok := s.sqls[name]; ok {
		return db, nil
	}
	ds, ok := s.cfg.Datasources[name]
	if !ok {
		return nil, fmt.Errorf("unknown datasource %q", name)
	}
	db, err := datasource.OpenSQL(name, ds.Driver, ds.DSN, datasource.AllowPrivileged(ds.AllowPrivileged))
	if err != nil {
		return nil, err
	}
	s.sqls[name] = db
	return db, nil
}

func (s *sources) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, db := range s.sqls {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// build makes a runnable check from its configuration. A check that cannot
// be built still runs: it reports status error with the reason.
func build(ctx context.Context, cfg *config.Config, c config.Check, src *sources, st *store.Store, logger *slog.Logger) checks.Check {
	deps, err := checkDeps(ctx, cfg, c, src, st, logger)
	if err != nil {
		return failing(err)
	}
	chk, err := c.Spec.Build(deps)
	if err != nil {
		return failing(err)
	}
	return chk
}

// checkDeps is what check c needs at run time: its datasource opened, the
// store's last result, and the logger its runs warn on.
func checkDeps(ctx context.Context, cfg *config.Config, c config.Check, src *sources, st *store.Store, logger *slog.Logger) (checks.Deps, error) {
	deps := checks.Deps{CheckID: c.ID, Timeout: c.Timeout, BaseDir: cfg.Dir, Logger: logger, HTTP: src.http}
	if st != nil {
		id := c.ID
		deps.Previous = func(ctx context.Context) (checks.Result, bool, error) {
			run, err := st.LatestResult(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return checks.Result{}, false, nil
			}
			if err != nil {
				return checks.Result{}, false, err
			}
			return run.Result, true, nil
		}
	}
	// The loader checked that the datasource is the kind the check needs.
	if ds, ok := cfg.Datasources[c.Datasource]; ok {
		switch ds.Driver {
		case config.DriverSQS:
			q, err := src.sqs(ctx, c.Datasource)
			if err != nil {
				return deps, err
			}
			deps.Queues = q
		case config.DriverS3:
			b, err := src.s3(ctx, c.Datasource)
			if err != nil {
				return deps, err
			}
			deps.Buckets = b
		default:
			db, err := src.sql(c.Datasource)
			if err != nil {
				return deps, err
			}
			deps.SQL = db
		}
	}
	return deps, nil
}

func failing(err error) checks.Check {
	return checks.CheckFunc(func(context.Context) (checks.Result, error) { return checks.Result{}, err })
}

// selectChecks returns the configured checks named by ids (all when ids is
// empty), in configuration order, or an error naming unknown ids.
func selectChecks(cfg *config.Config, ids []string) ([]config.Check, error) {
	if len(ids) == 0 {
		return cfg.Checks, nil
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []config.Check
	for _, c := range cfg.Checks {
		if want[c.ID] {
			out = append(out, c)
			delete(want, c.ID)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for id := range want {
			unknown = append(unknown, id)
		}
		sort.Strings(unknown)
		return nil, fmt.Errorf("unknown check %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// warnPrivileged logs, at every start, each of the named datasources that
// is set to allow_privileged: vigil does not inspect its role.
func warnPrivileged(cfg *config.Config, names []string, logger *slog.Logger) {
	for _, name := range names {
		if cfg.Datasources[name].AllowPrivileged {
			logger.Warn("datasource allows a privileged role: vigil does not inspect its privileges, so a check's query may have side effects a read-only transaction does not stop (allow_privileged: true)",
				"datasource", name)
		}
	}
}

// vetDatasources inspects each SQL datasource the checks use and logs what
// it finds: a refused role as an error (its checks end in error until the
// grants change), an unreachable database as a warning (it is inspected
// again at its first run). It never stops the caller.
func vetDatasources(ctx context.Context, cfg *config.Config, selected []config.Check, src *sources, logger *slog.Logger) {
	for _, name := range sqlDatasources(cfg, selected) {
		db, err := src.sql(name)
		if err == nil {
			err = db.Inspect(ctx)
		}
		switch {
		case err == nil:
		case errors.Is(err, datasource.ErrPrivileged):
			logger.Error("datasource refused: its checks end in error until its role may only read", "datasource", name, "err", err)
		default:
			logger.Warn("datasource unreachable at start: its checks end in error until it is reachable", "datasource", name, "err", err)
		}
	}
}

// sqlDatasources returns the names of the SQL datasources the checks use,
// sorted.
func sqlDatasources(cfg *config.Config, selected []config.Check) []string {
	seen := map[string]bool{}
	var names []string
	for _, c := range selected {
		if ds, ok := cfg.Datasources[c.Datasource]; ok && ds.IsSQL() && !seen[c.Datasource] {
			seen[c.Datasource] = true
			names = append(names, c.Datasource)
		}
	}
	sort.Strings(names)
	return names
}
