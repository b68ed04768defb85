package checks

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"
)

// Datasource kinds a Kind may require.
const (
	NeedsSQL  = "sql" // a postgres, mysql or sqlite datasource
	NeedsSQS  = "sqs"
	NeedsS3   = "s3"
	NeedsNone = ""
)

// Kind describes one kind of check: how its kind-specific configuration is
// decoded and validated, and how a check is built from it.
type Kind struct {
	Name string
	// Needs is the datasource a check of this kind requires: NeedsSQL,
	// NeedsSQS, NeedsS3 or NeedsNone.
	Needs string
	// NewSpec returns a pointer to an empty kind-specific configuration. The
	// config loader decodes the check's YAML mapping into it strictly (yaml
	// struct tags; the common fields are removed first).
	NewSpec func() Spec
}

// Spec is a kind's decoded configuration.
type Spec interface {
	// Validate reports every problem with the configuration. It may read
	// files named by the configuration (relative to env.BaseDir).
	Validate(env SpecEnv) []Problem
	// Build makes a runnable check. It is called only on a spec whose
	// Validate reported no problem.
	Build(deps Deps) (Check, error)
}

// SpecSecrets is implemented by a Spec whose configuration holds secrets
// (credentials in a header or a URL). Secrets returns them, so that vigil
// masks them wherever they might appear: script-log records, pages, logs.
type SpecSecrets interface {
	Secrets() []string
}

// Prober is a Spec that can check its configuration against its live
// datasource (vigil validate --connect), reading it as a run does.
type Prober interface {
	Probe(ctx context.Context, deps Deps) []Problem
}

// SpecEnv is what validation may consult.
type SpecEnv struct {
	// BaseDir is the directory of the config file; relative paths in a
	// check's configuration are relative to it.
	BaseDir string
}

// Problem is one configuration problem. Field is a dotted path inside the
// check's mapping ("tables[1].warn_after"; empty for the check itself) that
// the loader turns into a line. File and Line, when set, point elsewhere
// (for example into an endorsements rules file) and win over Field.
type Problem struct {
	Field string
	File  string
	Line  int
	Msg   string
}

// Deps is what a check needs at run time.
type Deps struct {
	CheckID string
	Timeout time.Duration
	// BaseDir is the directory of the config file.
	BaseDir string
	// SQL is the check's datasource when the kind needs NeedsSQL.
	SQL SQLSource
	// Queues is the check's datasource when the kind needs NeedsSQS; its
	// concrete type belongs to the sqs_dlq kind's adapter.
	Queues any
	// Buckets is the check's datasource when the kind needs NeedsS3; its
	// concrete type belongs to the s3_freshness kind's adapter.
	Buckets any
	// Previous returns the latest recorded result of this check (for kinds
	// that compare with the last run); ok is false when there is none.
	Previous func(ctx context.Context) (r Result, ok bool, err error)
	// HTTP, when set, is the connection pool the checks that make HTTP
	// requests share (keep-alive across checks); nil: each check makes its
	// own connections.
	HTTP http.RoundTripper
	// Logger receives what a run notices besides its result (for example
	// an endorsements rule that can never match). Nil discards it.
	Logger *slog.Logger
}

// Log returns d.Logger, or a logger that discards everything when it is nil.
func (d Deps) Log() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// SQLSource is a database a check validates. Implementations never write.
type SQLSource interface {
	// Name is the datasource's name in the configuration.
	Name() string
	// Driver is "postgres", "mysql" or "sqlite".
	Driver() string
	// ReadOnly runs fn inside a READ ONLY transaction whose statements time
	// out after timeout (and whose context is cancelled then), and rolls it
	// back. fn queries it only through EachRow. The returned error names the
	// datasource.
	ReadOnly(ctx context.Context, timeout time.Duration, fn func(ctx context.Context, tx *Tx) error) error
	// QuoteIdent quotes an identifier for this driver.
	QuoteIdent(name string) string
}

// Registry holds the known kinds by name.
type Registry map[string]Kind

// NewRegistry builds a registry; a duplicate name panics (a programming error).
func NewRegistry(kinds ...Kind) Registry {
	r := Registry{}
	for _, k := range kinds {
		if _, dup := r[k.Name]; dup {
			panic(fmt.Sprintf("checks: kind %q registered twice", k.Name))
		}
		r[k.Name] = k
	}
	return r
}

// Names returns the kind names in order.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
