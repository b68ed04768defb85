// Package config loads vigil.yaml: it parses the file, expands ${ENV}
// references and *_file secrets, applies defaults and validates everything,
// reporting every problem at once with its file and line.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
)

// Defaults applied by Load.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultStoreDriver  = "sqlite"
	DefaultNamespace    = "vigil"
	DefaultSchedule     = "@every 5m"
	DefaultTimeout      = 60 * time.Second
	DefaultRetentionRaw = 14 * 24 * time.Hour
	// DefaultGroupWait is sinks.slack.group_wait: how long an opened
	// alert waits for others to group with.
	DefaultGroupWait = 10 * time.Second
)

// Datasource drivers.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
	DriverSQLite   = "sqlite"
	DriverSQS      = "sqs"
)

// Config is a loaded, validated vigil.yaml with every default applied.
type Config struct {
	// Path is the config file as given to Load; Dir is its directory, the
	// base of every relative path in the configuration.
	Path, Dir   string
	Server      Server
	Store       Store
	Datasources map[string]Datasource
	Sinks       Sinks
	// RunbooksDir is `runbooks_dir` made relative to Dir, by default
	// Dir/runbooks.
	RunbooksDir string
	Retention   Retention
	// Scheduler is the `scheduler` section (the replicas' lease).
	Scheduler Scheduler
	// Auth is the `auth` section; see Auth.Configured for local mode.
	Auth Auth
	// Scriptlog is the `scriptlog` section (the script log's key and anchor).
	Scriptlog Scriptlog
	// Checks are in file order.
	Checks []Check
	// StatusPage is the `status_page` section; nil when it is absent (no
	// status page is served).
	StatusPage *StatusPage
	// SLOs are the `slos` list, in file order.
	SLOs []SLO
}

// Server is the `server` section.
type Server struct {
	Listen  string // default DefaultListen
	BaseURL string // default "http://" + Listen; never ends in "/"
	// MaxConnections caps the dashboard's concurrent connections; 0 (the
	// default) derives the cap from the file-descriptor limit at start.
	MaxConnections int
	// TrustedProxies are the reverse proxies (networks; a bare address is
	// one host) whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
}

// Store is the `store` section: where vigil keeps its own records.
type Store struct {
	Driver string // "sqlite" (default) or "postgres"
	// DSN defaults to Dir/vigil.db for SQLite; a relative SQLite path is
	// relative to Dir.
	DSN string
}

// Datasource is one entry of `datasources`: a system checks validate.
type Datasource struct {
	Name   string
	Driver string // postgres, mysql, sqlite or sqs
	// DSN is in the driver's own format (SQL drivers only); a relative
	// SQLite path is relative to Dir.
	DSN      string
	Region   string // sqs only
	Endpoint string // sqs only, optional
	// AllowPrivileged (SQL only) lets checks run on a role that may write
	// or act on the server, which vigil otherwise refuses.
	AllowPrivileged bool
	Line            int // line of the datasource's name
}

// IsSQL reports whether the datasource is a SQL database.
func (d Datasource) IsSQL() bool {
	return d.Driver == DriverPostgres || d.Driver == DriverMySQL || d.Driver == DriverSQLite
}

// Sinks is the `sinks` section. A sink whose address is empty is off.
type Sinks struct {
	Datadog Datadog
	Sentry  Sentry
	Slack   Slack
}

// Datadog configures the DogStatsD client.
type Datadog struct {
	Addr      string
	Namespace string // default DefaultNamespace
	Tags      []string
	TagLines  []int // the line of each of Tags
}

// Sentry configures the Sentry client.
type Sentry struct {
	DSN         string
	Environment string
}

// Slack configures the incoming webhook.
type Slack struct {
	WebhookURL string
	// GroupWait is how long an opened alert waits for others to group
	// with (default DefaultGroupWait; 0 sends at once).
	GroupWait time.Duration
}

// Retention is the `retention` section.
type Retention struct {
	// Raw is how long raw results are kept before they are rolled up;
	// default DefaultRetentionRaw.
	Raw time.Duration
}

// Check is one entry of `checks`, with its defaults applied.
type Check struct {
	ID, Kind, Datasource string
	Schedule             string        // a robfig/cron spec; default DefaultSchedule
	Timeout              time.Duration // default DefaultTimeout
	Runbook, Owner       string
	Tags                 []string
	// FailAfter and ResolveAfter are at least 1 (the default).
	FailAfter, ResolveAfter int
	// Line is the line of the check's mapping in the config file;
	// OwnerLine that of its owner, TagLines that of each of its tags.
	Line, OwnerLine int
	TagLines        []int
	// Spec is the kind-specific configuration, decoded into the kind's
	// NewSpec() and validated.
	Spec checks.Spec
}

// Check returns the check with the given id.
func (c *Config) Check(id string) (Check, bool) {
	for _, ch := range c.Checks {
		if ch.ID == id {
			return ch, true
		}
	}
	return Check{}, false
}

// Load reads, expands and validates the config at path. kinds supplies the
// known check kinds. On any problem — an unreadable file, a YAML syntax
// error, an unknown field, an undefined ${VAR}, an invalid value, or a
// problem a kind's Spec.Validate reports — it returns a nil Config and a
// *Problems error listing all of them (never just the first), each as
// "file:line: msg".
func Load(path string, kinds checks.Registry) (*Config, error) {
	l := &loader{
		cfg:       &Config{Path: path, Dir: filepath.Dir(path)},
		kinds:     kinds,
		lookupEnv: os.LookupEnv,
		bad:       map[*yaml.Node]bool{},
	}
	data, err := os.ReadFile(path)
	if err != nil {
		l.addf(0, "read config: %v", err)
	} else {
		l.load(data)
	}
	if len(l.problems) > 0 {
		ps := l.problems.sorted()
		return nil, &ps
	}
	return l.cfg, nil
}

// loader holds the state of one Load.
type loader struct {
	cfg       *Config
	kinds     checks.Registry
	lookupEnv func(string) (string, bool)
	problems  Problems
	// bad marks scalars whose ${VAR} expansion failed: they were reported
	// once and are not validated further.
	bad map[*yaml.Node]bool
	// refs are the ${VAR} references hidden from the YAML parser.
	refs *refTokens
}

// addf reports a problem in the config file.
func (l *loader) addf(line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.cfg.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse reads the single YAML document in data.
func (l *loader) parse(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true // an empty file
		}
		l.yamlError(err)
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.addf(next.Line, "config must be a single YAML document")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, true
	}
	return doc.Content[0], true
}

func (l *loader) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		l.addf(line, "%s", m[2])
		return
	}
	l.addf(0, "%s", strings.TrimPrefix(msg, "yaml: "))
}

// load decodes and validates the whole document.
func (l *loader) load(data []byte) {
	data, l.refs = protectRefs(data)
	root, ok := l.parse(data)
	if !ok {
		return
	}
	l.expandTree(root)
	line := 1
	if root != nil {
		line = root.Line
	}
	top := l.fieldsOf(root, line, "the config", "", "")
	if !top.has("datasources") {
		l.addf(top.keyLine("datasources"), "missing required field %q", "datasources")
	}
	if !top.has("checks") {
		l.addf(top.keyLine("checks"), "missing required field %q", "checks")
	}
	l.server(top.value("server"), top.keyLine("server"))
	l.store(top.value("store"), top.keyLine("store"))
	l.datasources(top.value("datasources"), top.keyLine("datasources"))
	l.sinks(top.value("sinks"), top.keyLine("sinks"))
	l.cfg.RunbooksDir = "runbooks"
	top.str("runbooks_dir", &l.cfg.RunbooksDir)
	l.cfg.RunbooksDir = l.relative(l.cfg.RunbooksDir)
	l.retention(top.value("retention"), top.keyLine("retention"))
	l.scheduler(top.value("scheduler"), top.keyLine("scheduler"))
	l.auth(top.value("auth"), top.keyLine("auth"))
	l.scriptlog(top.value("scriptlog"), top.keyLine("scriptlog"))
	l.checks(top.value("checks"), top.keyLine("checks"))
	l.statusPage(top.value("status_page"), top.keyLine("status_page"))
	l.slos(top.value("slos"))
	top.done()
}

// relative makes a relative path relative to the config's directory.
func (l *loader) relative(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(l.cfg.Dir, p)
}

// sqlitePath makes a relative SQLite file path relative to the config's
// directory; "file:" URIs and ":memory:" are kept as written.
func (l *loader) sqlitePath(dsn string) string {
	if strings.HasPrefix(dsn, "file:") || strings.HasPrefix(dsn, ":memory:") {
		return dsn
	}
	return l.relative(dsn)
}

func (l *loader) server(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "server", "in server", "server: ")
	s := Server{Listen: DefaultListen}
	f.str("listen", &s.Listen)
	f.str("base_url", &s.BaseURL)
	f.int("max_connections", &s.MaxConnections)
	s.TrustedProxies = l.trustedProxies(f)
	f.done()
	if f.has("max_connections") && s.MaxConnections < 1 {
		f.problem("max_connections", "max_connections: must be at least 1, got %d (leave it out to derive it from the file-descriptor limit)", s.MaxConnections)
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		f.problem("listen", "listen: invalid address %q (want host:port)", s.Listen)
	}
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	if s.BaseURL == "" {
		s.BaseURL = "http://" + s.Listen
	} else if !isHTTPURL(s.BaseURL) {
		f.problem("base_url", "base_url: invalid URL %q (want http:// or https://)", s.BaseURL)
	}
	l.cfg.Server = s
}

// trustedProxies reads server.trusted_proxies: addresses or CIDR networks.
// A network of every address (0.0.0.0/0, ::/0) is refused: it would let any
// client name itself in X-Forwarded-For.
func (l *loader) trustedProxies(f *fields) []netip.Prefix {
	var raw []string
	f.strings("trusted_proxies", &raw) // marks the key and reports a wrong shape
	if raw == nil {
		return nil
	}
	var out []netip.Prefix
	for _, e := range resolve(f.value("trusted_proxies")).Content {
		if e = resolve(e); e.Kind != yaml.ScalarNode || l.bad[e] {
			continue
		}
		p, err := netip.ParsePrefix(e.Value)
		if err != nil {
			a, aerr := netip.ParseAddr(e.Value)
			if aerr != nil {
				l.addf(e.Line, "server: trusted_proxies: invalid address or CIDR %q (want e.g. 10.0.0.0/8 or 192.0.2.10)", e.Value)
				continue
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			l.addf(e.Line, "server: trusted_proxies: %s would trust every client's X-Forwarded-For; list your proxies' addresses", e.Value)
			continue
		}
		out = append(out, p.Masked())
	}
	return out
}

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (l *loader) store(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "store", "in store", "store: ")
	s := Store{Driver: DefaultStoreDriver}
	f.str("driver", &s.Driver)
	f.secret("dsn", &s.DSN)
	f.done()
	switch s.Driver {
	case DriverSQLite:
		if s.DSN == "" {
			s.DSN = "vigil.db"
		}
		s.DSN = l.sqlitePath(s.DSN)
	case DriverPostgres:
		if s.DSN == "" && !f.has("dsn_file") {
			f.problem("driver", "postgres needs a dsn")
		}
	default:
		f.problem("driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
	l.cfg.Store = s
}

func (l *loader) datasources(n *yaml.Node, line int) {
	l.cfg.Datasources = map[string]Datasource{}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.addf(n.Line, "datasources must be a mapping of names to datasources, got %s", kindName(n))
		return
	}
	for _, p := range l.mappingPairs(n) {
		name := p.key.Value
		where := fmt.Sprintf("datasource %q", name)
		f := l.fieldsOf(p.value, p.key.Line, where, "in "+where, where+": ")
		d := Datasource{Name: name, Line: p.key.Line}
		f.str("driver", &d.Driver)
		f.secret("dsn", &d.DSN)
		f.str("region", &d.Region)
		f.str("endpoint", &d.Endpoint)
		f.bool("allow_privileged", &d.AllowPrivileged)
		f.done()
		switch {
		case d.Driver == "":
			f.problem("driver", "missing driver (want postgres, mysql, sqlite or sqs)")
		case d.IsSQL():
			if d.DSN == "" && !f.has("dsn_file") {
				f.problem("dsn", "missing dsn")
			}
			for _, k := range []string{"region", "endpoint"} {
				if f.has(k) {
					f.problem(k, "%s is only for sqs datasources", k)
				}
			}
			if d.Driver == DriverSQLite && d.DSN != "" {
				d.DSN = l.sqlitePath(d.DSN)
			}
		case d.Driver == DriverSQS:
			if d.Region == "" {
				f.problem("region", "missing region")
			}
			for _, k := range []string{"dsn", "dsn_file", "allow_privileged"} {
				if f.has(k) {
					f.problem(k, "%s is only for sql datasources", k)
				}
			}
			if d.Endpoint != "" && !isHTTPURL(d.Endpoint) {
				f.problem("endpoint", "endpoint: invalid URL %q (want http:// or https://)", d.Endpoint)
			}
		default:
			f.problem("driver", "unknown driver %q (want postgres, mysql, sqlite or sqs)", d.Driver)
		}
		l.cfg.Datasources[name] = d
	}
}

func (l *loader) sinks(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "sinks", "in sinks", "sinks: ")
	s := Sinks{Datadog: Datadog{Namespace: DefaultNamespace}, Slack: Slack{GroupWait: DefaultGroupWait}}

	dd := l.fieldsOf(f.value("datadog"), f.keyLine("datadog"), "sinks.datadog", "in sinks.datadog", "sinks.datadog: ")
	dd.str("addr", &s.Datadog.Addr)
	dd.str("namespace", &s.Datadog.Namespace)
	dd.strings("tags", &s.Datadog.Tags)
	s.Datadog.TagLines = dd.elementLines("tags")
	dd.done()

	se := l.fieldsOf(f.value("sentry"), f.keyLine("sentry"), "sinks.sentry", "in sinks.sentry", "sinks.sentry: ")
	se.secret("dsn", &s.Sentry.DSN)
	se.str("environment", &s.Sentry.Environment)
	se.done()
	if s.Sentry.DSN != "" {
		if msg := sentryDSNProblem(s.Sentry.DSN); msg != "" {
			key := "dsn"
			if !se.has(key) {
				key = "dsn_file"
			}
			l.addf(se.keyLine(key), "sinks.sentry.dsn: %s (want https://PUBLIC_KEY@HOST/PROJECT_ID)", msg) // never echo the DSN
		}
	}

	sl := l.fieldsOf(f.value("slack"), f.keyLine("slack"), "sinks.slack", "in sinks.slack", "sinks.slack: ")
	sl.secret("webhook_url", &s.Slack.WebhookURL)
	sl.duration("group_wait", &s.Slack.GroupWait)
	sl.done()
	if s.Slack.GroupWait < 0 {
		sl.problem("group_wait", "group_wait: must not be negative, got %s", s.Slack.GroupWait)
	}
	if s.Slack.WebhookURL != "" && !isHTTPURL(s.Slack.WebhookURL) {
		sl.problem("webhook_url", "webhook_url is not an http(s) URL") // never echo the secret
	}

	f.done()
	l.cfg.Sinks = s
}

func (l *loader) retention(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "retention", "in retention", "retention: ")
	r := Retention{Raw: DefaultRetentionRaw}
	f.duration("raw", &r.Raw)
	f.done()
	if r.Raw <= 0 {
		f.problem("raw", "raw: must be positive, got %s", r.Raw)
	}
	l.cfg.Retention = r
}
