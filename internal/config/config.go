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
	DriverS3       = "s3"
)

// Config is a loaded, validated vigil.yaml with every default applied. Its
// yaml-tagged types are both what the loader decodes the file into and
// what `vigil schema` describes.
type Config struct {
	// Path is the config file as given to Load; Dir is its directory, the
	// base of every relative path in the configuration.
	Path        string                `yaml:"-"`
	Dir         string                `yaml:"-"`
	Server      Server                `yaml:"server"`
	Store       Store                 `yaml:"store"`
	Datasources map[string]Datasource `yaml:"datasources"`
	Sinks       Sinks                 `yaml:"sinks"`
	// RunbooksDir is `runbooks_dir` made relative to Dir, by default
	// Dir/runbooks.
	RunbooksDir string    `yaml:"runbooks_dir"`
	Retention   Retention `yaml:"retention"`
	// Scheduler is the `scheduler` section (the replicas' lease).
	Scheduler Scheduler `yaml:"scheduler"`
	// Auth is the `auth` section; see Auth.Configured for local mode.
	Auth Auth `yaml:"auth"`
	// Scriptlog is the `scriptlog` section (the script log's key and anchor).
	Scriptlog Scriptlog `yaml:"scriptlog"`
	// Checks are in file order.
	Checks []Check `yaml:"checks" jsonschema:"required"`
	// StatusPage is the `status_page` section; nil when it is absent (no
	// status page is served).
	StatusPage *StatusPage `yaml:"status_page"`
	// SLOs are the `slos` list, in file order.
	SLOs []SLO `yaml:"slos"`
}

// Server is the `server` section.
type Server struct {
	Listen  string `yaml:"listen"`   // default DefaultListen
	BaseURL string `yaml:"base_url"` // default "http://" + Listen; never ends in "/"
	// MetricsListen, when set, is a second address serving only /metrics,
	// without auth.
	MetricsListen string `yaml:"metrics_listen"`
	// MaxConnections caps the dashboard's concurrent connections; 0 (the
	// default) derives the cap from the file-descriptor limit at start.
	MaxConnections int `yaml:"max_connections"`
	// TrustedProxyList is `trusted_proxies` as written: the reverse proxies
	// (networks; a bare address is one host) whose X-Forwarded-For names
	// the client. TrustedProxies is it parsed.
	TrustedProxyList []string       `yaml:"trusted_proxies"`
	TrustedProxies   []netip.Prefix `yaml:"-"`
}

// Store is the `store` section: where vigil keeps its own records.
type Store struct {
	Driver string `yaml:"driver" jsonschema:"enum=sqlite,enum=postgres"` // "sqlite" (default) or "postgres"
	// DSN defaults to Dir/vigil.db for SQLite; a relative SQLite path is
	// relative to Dir. With dsn_file, it is that file's trimmed content.
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
}

// Datasource is one entry of `datasources`: a system checks validate.
type Datasource struct {
	Name   string `yaml:"-"`
	Driver string `yaml:"driver" jsonschema:"required,enum=postgres,enum=mysql,enum=sqlite,enum=sqs,enum=s3"`
	// DSN is in the driver's own format (SQL drivers only); a relative
	// SQLite path is relative to Dir. With dsn_file, it is that file's
	// trimmed content.
	DSN      string `yaml:"dsn"`
	DSNFile  string `yaml:"dsn_file"`
	Region   string `yaml:"region"`   // sqs and s3 only
	Endpoint string `yaml:"endpoint"` // sqs and s3 only, optional
	// AllowPrivileged (SQL only) lets checks run on a role that may write
	// or act on the server, which vigil otherwise refuses.
	AllowPrivileged bool `yaml:"allow_privileged"`
	Line            int  `yaml:"-"` // line of the datasource's name
}

// IsAWS reports whether the datasource is an AWS service (sqs or s3): it
// has a region and an optional endpoint instead of a DSN.
func (d Datasource) IsAWS() bool { return d.Driver == DriverSQS || d.Driver == DriverS3 }

// IsSQL reports whether the datasource is a SQL database.
func (d Datasource) IsSQL() bool {
	return d.Driver == DriverPostgres || d.Driver == DriverMySQL || d.Driver == DriverSQLite
}

// Sinks is the `sinks` section. A sink whose address is empty is off.
type Sinks struct {
	Datadog Datadog `yaml:"datadog"`
	Sentry  Sentry  `yaml:"sentry"`
	Slack   Slack   `yaml:"slack"`
}

// Datadog configures the DogStatsD client.
type Datadog struct {
	Addr      string   `yaml:"addr"`
	Namespace string   `yaml:"namespace"` // default DefaultNamespace
	Tags      []string `yaml:"tags"`
	TagLines  []int    `yaml:"-"` // the line of each of Tags
}

// Sentry configures the Sentry client.
type Sentry struct {
	DSN         string `yaml:"dsn"`
	DSNFile     string `yaml:"dsn_file"`
	Environment string `yaml:"environment"`
}

// Slack configures the incoming webhook.
type Slack struct {
	WebhookURL     string `yaml:"webhook_url"`
	WebhookURLFile string `yaml:"webhook_url_file"`
	// GroupWait is how long an opened alert waits for others to group
	// with (default DefaultGroupWait; 0 sends at once).
	GroupWait time.Duration `yaml:"group_wait"`
}

// Retention is the `retention` section.
type Retention struct {
	// Raw is how long raw results are kept before they are rolled up;
	// default DefaultRetentionRaw.
	Raw time.Duration `yaml:"raw"`
}

// Check is one entry of `checks`, with its defaults applied. The fields
// every kind shares are yaml-tagged; the others are the kind's Spec.
type Check struct {
	ID         string        `yaml:"id" jsonschema:"required,pattern=^[a-z0-9-]+$"`
	Kind       string        `yaml:"kind" jsonschema:"required"`
	Datasource string        `yaml:"datasource"`
	Schedule   string        `yaml:"schedule"` // a robfig/cron spec; default DefaultSchedule
	Timeout    time.Duration `yaml:"timeout"`  // default DefaultTimeout
	Runbook    string        `yaml:"runbook"`
	Owner      string        `yaml:"owner"`
	Tags       []string      `yaml:"tags"`
	// FailAfter and ResolveAfter are at least 1 (the default).
	FailAfter    int `yaml:"fail_after" jsonschema:"minimum=1"`
	ResolveAfter int `yaml:"resolve_after" jsonschema:"minimum=1"`
	// Line is the line of the check's mapping in the config file;
	// OwnerLine that of its owner, TagLines that of each of its tags.
	Line      int   `yaml:"-"`
	OwnerLine int   `yaml:"-"`
	TagLines  []int `yaml:"-"`
	// Spec is the kind-specific configuration, decoded into the kind's
	// NewSpec() and validated.
	Spec checks.Spec `yaml:"-"`
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
	cfg, err := LoadPartial(path, kinds)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// LoadPartial is Load that also returns, with the problems, the config as
// far as it could be read (for `vigil validate`, which cross-checks the
// runbooks of a config that has problems). In that config, a check whose
// kind-specific fields had a problem has a nil Spec, and a check without an
// id is left out. The config is never nil.
func LoadPartial(path string, kinds checks.Registry) (*Config, error) {
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
		return l.cfg, &ps
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

// The top-level keys decoded on their own: each datasource, check, status
// page group and SLO has its own label in messages, a check's fields depend
// on its kind, and the status page and SLOs name checks.
const (
	keyDatasources = "datasources"
	keyChecks      = "checks"
	keyStatusPage  = "status_page"
	keySLOs        = "slos"
)

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
	cfg := l.cfg
	cfg.Server.Listen = DefaultListen
	cfg.Store.Driver = DefaultStoreDriver
	cfg.Sinks.Datadog.Namespace = DefaultNamespace
	cfg.Sinks.Slack.GroupWait = DefaultGroupWait
	cfg.RunbooksDir = "runbooks"
	cfg.Retention.Raw = DefaultRetentionRaw
	cfg.Scheduler.LeaseTTL = DefaultLeaseTTL
	cfg.Scheduler.MaxConcurrent = DefaultMaxConcurrent
	cfg.Auth.SessionTTL = DefaultSessionTTL
	cfg.Datasources = map[string]Datasource{}

	// The sections, in one strict decode; datasources and checks after.
	var datasources, checkList, statusPage, slos *yaml.Node
	statusLine := line
	sections := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line}
	if r := resolve(root); !isNull(r) {
		if r.Kind != yaml.MappingNode {
			l.addf(r.Line, "the config must be a mapping, got %s", kindName(r))
			return
		}
		for _, p := range l.mappingPairs(r) {
			switch p.key.Value {
			case keyDatasources:
				datasources = p.value
			case keyChecks:
				checkList = p.value
			case keyStatusPage:
				statusPage, statusLine = p.value, p.key.Line
			case keySLOs:
				slos = p.value
			default:
				sections.Content = append(sections.Content, p.key, p.value)
			}
		}
	}
	if checkList == nil {
		l.addf(line, "missing required field %q", keyChecks)
	}
	top := l.decode(sections, line, "", true, cfg)
	l.server(top)
	l.store(top)
	l.datasources(datasources)
	l.sinks(top)
	cfg.RunbooksDir = l.relative(cfg.RunbooksDir)
	l.retention(top)
	l.scheduler(top)
	l.auth(top)
	l.scriptlog(top)
	l.checks(checkList)
	l.statusPage(statusPage, statusLine)
	l.slos(slos)
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

func (l *loader) server(top *decoded) {
	s := &l.cfg.Server
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		top.problem("server.listen", "listen: invalid address %q (want host:port)", s.Listen)
	}
	if s.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(s.MetricsListen); err != nil {
			top.problem("server.metrics_listen", "metrics_listen: invalid address %q (want host:port)", s.MetricsListen)
		}
	}
	if top.has("server.max_connections") && s.MaxConnections < 1 {
		top.problem("server.max_connections", "max_connections: must be at least 1, got %d (leave it out to derive it from the file-descriptor limit)", s.MaxConnections)
	}
	s.TrustedProxies = l.trustedProxies(top)
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	if s.BaseURL == "" {
		s.BaseURL = "http://" + s.Listen
	} else if !isHTTPURL(s.BaseURL) {
		top.problem("server.base_url", "base_url: invalid URL %q (want http:// or https://)", s.BaseURL)
	}
}

// trustedProxies parses server.trusted_proxies: addresses or CIDR networks.
// A network of every address (0.0.0.0/0, ::/0) is refused: it would let any
// client name itself in X-Forwarded-For.
func (l *loader) trustedProxies(top *decoded) []netip.Prefix {
	var out []netip.Prefix
	for i, v := range l.cfg.Server.TrustedProxyList {
		path := fmt.Sprintf("server.trusted_proxies[%d]", i)
		if top.reported(path) {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				top.problem(path, "trusted_proxies: invalid address or CIDR %q (want e.g. 10.0.0.0/8 or 192.0.2.10)", v)
				continue
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			top.problem(path, "trusted_proxies: %s would trust every client's X-Forwarded-For; list your proxies' addresses", v)
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

func (l *loader) store(top *decoded) {
	s := &l.cfg.Store
	top.secret("store.dsn", &s.DSN, s.DSNFile)
	switch s.Driver {
	case DriverSQLite:
		if s.DSN == "" {
			s.DSN = "vigil.db"
		}
		s.DSN = l.sqlitePath(s.DSN)
	case DriverPostgres:
		if s.DSN == "" && !top.has("store.dsn_file") {
			top.problem("store.driver", "postgres needs a dsn")
		}
	default:
		top.problem("store.driver", "unknown driver %q (want sqlite or postgres)", s.Driver)
	}
}

// datasources decodes each entry of the `datasources` mapping, which is
// optional: a config whose checks need no datasource (http) has none.
func (l *loader) datasources(n *yaml.Node) {
	if isNull(n) {
		return
	}
	if r := resolve(n); r.Kind != yaml.MappingNode {
		l.addf(n.Line, "datasources must be a mapping of names to datasources, got %s", kindName(n))
		return
	}
	for _, p := range l.mappingPairs(resolve(n)) {
		name := p.key.Value
		d := Datasource{Name: name, Line: p.key.Line}
		f := l.decode(p.value, p.key.Line, fmt.Sprintf("datasource %q", name), true, &d)
		f.secret("dsn", &d.DSN, d.DSNFile)
		switch {
		case d.Driver == "":
			f.problem("driver", "missing driver (want postgres, mysql, sqlite, sqs or s3)")
		case d.IsSQL():
			if d.DSN == "" && !f.has("dsn_file") {
				f.problem("dsn", "missing dsn")
			}
			for _, k := range []string{"region", "endpoint"} {
				if f.has(k) {
					f.problem(k, "%s is only for sqs and s3 datasources", k)
				}
			}
			if d.Driver == DriverSQLite && d.DSN != "" {
				d.DSN = l.sqlitePath(d.DSN)
			}
		case d.IsAWS():
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
			f.problem("driver", "unknown driver %q (want postgres, mysql, sqlite, sqs or s3)", d.Driver)
		}
		l.cfg.Datasources[name] = d
	}
}

func (l *loader) sinks(top *decoded) {
	s := &l.cfg.Sinks
	top.secret("sinks.sentry.dsn", &s.Sentry.DSN, s.Sentry.DSNFile)
	for i := range s.Datadog.Tags {
		s.Datadog.TagLines = append(s.Datadog.TagLines, top.lineOf(fmt.Sprintf("sinks.datadog.tags[%d]", i)))
	}
	if s.Sentry.DSN != "" && !top.reported("sinks.sentry.dsn") {
		if msg := sentryDSNProblem(s.Sentry.DSN); msg != "" {
			path := "sinks.sentry.dsn"
			if !top.has(path) {
				path = "sinks.sentry.dsn_file"
			}
			l.addf(top.lineOf(path), "sinks.sentry.dsn: %s (want https://PUBLIC_KEY@HOST/PROJECT_ID)", msg) // never echo the DSN
		}
	}
	top.secret("sinks.slack.webhook_url", &s.Slack.WebhookURL, s.Slack.WebhookURLFile)
	if s.Slack.GroupWait < 0 {
		top.problem("sinks.slack.group_wait", "group_wait: must not be negative, got %s", s.Slack.GroupWait)
	}
	if s.Slack.WebhookURL != "" && !isHTTPURL(s.Slack.WebhookURL) {
		top.problem("sinks.slack.webhook_url", "webhook_url is not an http(s) URL") // never echo the secret
	}
}

func (l *loader) retention(top *decoded) {
	if r := l.cfg.Retention.Raw; r <= 0 {
		top.problem("retention.raw", "raw: must be positive, got %s", r)
	}
}
