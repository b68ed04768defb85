package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	)
}

// loadConfig loads path and prints every problem to stderr.
func loadConfig(path string, stderr io.Writer) (*config.Config, bool) {
	if path == "" {
		fmt.Fprintln(stderr, "vigil: -c FILE is required")
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

// sources opens each datasource once, on first use, and closes them all.
type sources struct {
	cfg    *config.Config
	http   http.RoundTripper // the http checks' shared connection pool
	mu     sync.Mutex
	sqls   map[string]*datasource.SQL
	queues map[string]*datasource.SQS
}

func newSources(cfg *config.Config) *sources {
	return &sources{cfg: cfg, http: httpcheck.NewTransport(), sqls: map[string]*datasource.SQL{}, queues: map[string]*datasource.SQS{}}
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
	q, err := datasource.OpenSQS(ctx, name, ds.Region, ds.Endpoint)
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
	db, err := datasource.OpenSQL(name, ds.Driver, ds.DSN)
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
func build(ctx context.Context, cfg *config.Config, c config.Check, src *sources, st *store.Store) checks.Check {
	deps := checks.Deps{CheckID: c.ID, Timeout: c.Timeout, BaseDir: cfg.Dir, HTTP: src.http}
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
		if ds.Driver == config.DriverSQS {
			q, err := src.sqs(ctx, c.Datasource)
			if err != nil {
				return failing(err)
			}
			deps.Queues = q
		} else {
			db, err := src.sql(c.Datasource)
			if err != nil {
				return failing(err)
			}
			deps.SQL = db
		}
	}
	chk, err := c.Spec.Build(deps)
	if err != nil {
		return failing(err)
	}
	return chk
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
