// Package httpcheck is the http kind: it calls one HTTP endpoint and checks
// its status, its body and how fast it answered.
//
// The URL's credentials and query string never appear in a violation key,
// a detail or an error: they often carry tokens.
package httpcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	"github.com/tidwall/gjson"

	"github.com/vigilhq/vigil/checks"
)

// Kind is the http kind. warn_above and fail_above do not apply to it (its
// Spec has no such fields, so strict decoding rejects them).
var Kind = checks.Kind{
	Name:    "http",
	Needs:   checks.NeedsNone,
	NewSpec: func() checks.Spec { return &Spec{} },
}

// MaxRedirects is how many redirects a request follows; one more fails it.
const MaxRedirects = 10

// maxBody bounds how much of a response body is read: body_contains looks
// at this much, and graphql and json judge only a body that fits.
const maxBody = 1 << 20

// defaultTimeout bounds a request when the check has no timeout.
const defaultTimeout = 30 * time.Second

// Spec is an http check's configuration.
type Spec struct {
	URL     string            `yaml:"url" jsonschema:"required"`
	Method  string            `yaml:"method"` // default GET
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// ExpectStatus lists the accepted status codes: one code
	// (`expect_status: 204`) or a list (`expect_status: [200, 304]`).
	// Empty accepts 200-299.
	ExpectStatus StatusCodes `yaml:"expect_status"`
	// MaxLatency, when set, warns on a response slower than it.
	MaxLatency time.Duration `yaml:"max_latency"`
	// BodyContains, when set, fails a response body without this text.
	BodyContains string `yaml:"body_contains"`
	// HeadersFile sets headers from secret files: each value is the
	// trimmed content of the file named (relative to the config).
	HeadersFile map[string]string `yaml:"headers_file"`
	// GraphQL, when set, POSTs this GraphQL request and fails a response
	// whose errors list is not empty.
	GraphQL *GraphQL `yaml:"graphql"`
	// JSON are assertions on the JSON response body.
	JSON []JSONAssertion `yaml:"json"`
	// TLS checks the certificate's days left and names a private CA.
	TLS *TLS `yaml:"tls"`

	fileHeaders map[string]string // HeadersFile's values, read by Validate
	rootCAs     *x509.CertPool    // TLS.CAFile's certificates, read by Validate
}

// StatusCodes is a list of HTTP status codes that also decodes from a
// single number.
type StatusCodes []int

// UnmarshalYAML reads one code or a list of codes.
func (s *StatusCodes) UnmarshalYAML(unmarshal func(any) error) error {
	var one int
	if err := unmarshal(&one); err == nil {
		*s = StatusCodes{one}
		return nil
	}
	var many []int
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("expect_status must be a status code or a list of status codes")
	}
	*s = many
	return nil
}

// JSONSchema describes the two YAML forms for `vigil schema`.
func (StatusCodes) JSONSchema() *jsonschema.Schema {
	code := &jsonschema.Schema{Type: "integer", Minimum: "100", Maximum: "599"}
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{code, {Type: "array", Items: code, MinItems: &[]uint64{1}[0]}}}
}

// accepts reports whether code is expected.
func (s StatusCodes) accepts(code int) bool {
	if len(s) == 0 {
		return code >= 200 && code <= 299
	}
	for _, c := range s {
		if c == code {
			return true
		}
	}
	return false
}

// String writes the expectation: "200-299", "204" or "one of 200, 304".
func (s StatusCodes) String() string {
	switch len(s) {
	case 0:
		return "200-299"
	case 1:
		return strconv.Itoa(s[0])
	}
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = strconv.Itoa(c)
	}
	return "one of " + strings.Join(parts, ", ")
}

var (
	methodRE = regexp.MustCompile(`^[A-Za-z]+$`)
	headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Validate reports every problem with the configuration, and reads the
// files it names (headers_file, tls.ca_file) relative to env.BaseDir. No
// message quotes the URL's credentials or query string, or a file's
// content.
func (s *Spec) Validate(env checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	if s.URL == "" {
		ps = append(ps, checks.Problem{Field: "url", Msg: "url is required"})
	} else if _, err := target(s.URL); err != nil {
		ps = append(ps, checks.Problem{Field: "url", Msg: err.Error()})
	}
	if s.Method != "" && !methodRE.MatchString(s.Method) {
		ps = append(ps, checks.Problem{Field: "method", Msg: fmt.Sprintf("method %q is not an HTTP method", s.Method)})
	}
	names := make([]string, 0, len(s.Headers))
	for name := range s.Headers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !headerRE.MatchString(name) {
			ps = append(ps, checks.Problem{Field: "headers", Msg: fmt.Sprintf("header name %q is not valid", name)})
		}
		if strings.ContainsAny(s.Headers[name], "\r\n") {
			ps = append(ps, checks.Problem{Field: "headers." + name, Msg: fmt.Sprintf("header %s must not contain a line break", name)})
		}
	}
	for i, c := range s.ExpectStatus {
		if c < 100 || c > 599 {
			ps = append(ps, checks.Problem{Field: fmt.Sprintf("expect_status[%d]", i), Msg: fmt.Sprintf("status %d is not between 100 and 599", c)})
		}
	}
	if s.MaxLatency < 0 {
		ps = append(ps, checks.Problem{Field: "max_latency", Msg: "max_latency must not be negative"})
	}
	ps = append(ps, s.headerFileProblems(env)...)
	ps = append(ps, s.bodyProblems()...)
	if s.TLS != nil {
		u, err := url.Parse(s.URL)
		var tps []checks.Problem
		s.rootCAs, tps = s.TLS.problems(env, err == nil && u.Scheme == "https")
		ps = append(ps, tps...)
	}
	return ps
}

// headerFileProblems reads headers_file: a header name must be valid and
// not also in headers, its file readable and not empty, its value a single
// line. No message quotes a file's content.
func (s *Spec) headerFileProblems(env checks.SpecEnv) []checks.Problem {
	var ps []checks.Problem
	s.fileHeaders = map[string]string{}
	for _, name := range sortedKeys(s.HeadersFile) {
		field := "headers_file." + name
		if !headerRE.MatchString(name) {
			ps = append(ps, checks.Problem{Field: "headers_file", Msg: fmt.Sprintf("header name %q is not valid", name)})
			continue
		}
		if slices.ContainsFunc(sortedKeys(s.Headers), func(h string) bool { return strings.EqualFold(h, name) }) {
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("header %s is set in both headers and headers_file", name)})
			continue
		}
		path := s.HeadersFile[name]
		full := path
		if !filepath.IsAbs(full) {
			full = filepath.Join(env.BaseDir, full)
		}
		raw, err := os.ReadFile(full)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("headers_file: cannot read %q: %v", path, err)})
			continue
		}
		v := strings.TrimSpace(string(raw))
		switch {
		case v == "":
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("headers_file: %q is empty", path)})
		case strings.ContainsAny(v, "\r\n"):
			ps = append(ps, checks.Problem{Field: field, Msg: fmt.Sprintf("headers_file: %q holds more than one line", path)})
		default:
			s.fileHeaders[name] = v
		}
	}
	return ps
}

// bodyProblems validates graphql and json.
func (s *Spec) bodyProblems() []checks.Problem {
	var ps []checks.Problem
	if g := s.GraphQL; g != nil {
		if strings.TrimSpace(g.Query) == "" {
			ps = append(ps, checks.Problem{Field: "graphql.query", Msg: "graphql.query is required"})
		}
		if s.Method != "" && !strings.EqualFold(s.Method, http.MethodPost) {
			ps = append(ps, checks.Problem{Field: "method", Msg: fmt.Sprintf("a graphql request is a POST, not %s", s.Method)})
		}
		if s.Body != "" {
			ps = append(ps, checks.Problem{Field: "body", Msg: "body and graphql are both set: graphql makes the body"})
		}
		for name := range s.Headers {
			if strings.EqualFold(name, "Content-Type") {
				ps = append(ps, checks.Problem{Field: "headers." + name, Msg: "a graphql request's Content-Type is application/json: leave it out of headers"})
			}
		}
		if _, err := g.body(); err != nil {
			ps = append(ps, checks.Problem{Field: "graphql.variables", Msg: fmt.Sprintf("graphql.variables cannot be written as JSON: %v", err)})
		}
	}
	seen := map[string]int{}
	for i, a := range s.JSON {
		field := fmt.Sprintf("json[%d]", i)
		ps = append(ps, a.problems(field)...)
		if j, dup := seen[a.Path]; dup && a.Path != "" {
			ps = append(ps, checks.Problem{Field: field + ".path", Msg: fmt.Sprintf("path %q is asserted twice (also json[%d]): put both in one assertion", a.Path, j)})
		} else {
			seen[a.Path] = i
		}
	}
	return ps
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// target parses an http(s) URL; its errors never quote the URL.
func target(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("url is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("url must start with http:// or https://")
	}
	if u.Host == "" {
		return nil, errors.New("url has no host")
	}
	return u, nil
}

// Key returns the violation key for a URL: the URL without credentials,
// query string or fragment. An unparsable URL gives "invalid URL".
func Key(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid URL"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// Idle connections of NewTransport's pool: how many it keeps (in all and
// per host) and for how long. Few and short, so keep-alive saves the
// connect (a seventh of serve's CPU with 1,000 checks on one host) without
// holding a connection, its buffers and goroutines per check: checks on
// many hosts dial as before.
const (
	MaxIdleConns        = 16
	MaxIdleConnsPerHost = 4
	IdleConnTimeout     = 30 * time.Second
)

// NewTransport returns a connection pool for Deps.HTTP, shared by the http
// checks of one process: a run may reuse a connection another run left
// idle, so its latency leaves out the connect and TLS handshake (a
// certificate change is seen within IdleConnTimeout).
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = MaxIdleConns
	t.MaxIdleConnsPerHost = MaxIdleConnsPerHost
	t.IdleConnTimeout = IdleConnTimeout
	return t
}

// credentialName matches the names of headers and query parameters that
// carry credentials: Authorization (RFC 9110 section 11.6.2), Cookie,
// x-api-key, X-Auth-Token, token, access_token, sig, X-Amz-Signature,
// X-Amz-Credential, password, client_secret, session...
var credentialName = regexp.MustCompile(`(?i)auth|cookie|key|token|secret|pass|session|sig|cred`)

// Secrets implements checks.SpecSecrets: the URL's password (or its user
// name when it has no password: a token), the values of query parameters
// and headers whose names carry credentials, every header read from
// headers_file, and for a header whose value is "<scheme> <credentials>"
// the credentials alone too.
func (s *Spec) Secrets() []string {
	var out []string
	if u, err := url.Parse(s.URL); err == nil {
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				out = append(out, p)
			} else {
				out = append(out, u.User.Username())
			}
		}
		for name, values := range u.Query() {
			if credentialName.MatchString(name) {
				out = append(out, values...)
			}
		}
	}
	return append(out, s.headerSecrets()...)
}

// headerSecrets are the values of headers whose names carry credentials
// and of every header from headers_file, each also without its scheme
// ("Bearer ").
func (s *Spec) headerSecrets() []string {
	var out []string
	add := func(v string) {
		out = append(out, v)
		if _, cred, ok := strings.Cut(strings.TrimSpace(v), " "); ok {
			out = append(out, strings.TrimSpace(cred))
		}
	}
	for name, v := range s.Headers {
		if credentialName.MatchString(name) {
			add(v)
		}
	}
	for _, v := range s.fileHeaders {
		add(v)
	}
	return out
}

// Build makes the check. A request times out at 90% of deps.Timeout (30s
// when unset), so the run reports a timeout before its own deadline.
func (s *Spec) Build(deps checks.Deps) (checks.Check, error) {
	u, err := target(s.URL)
	if err != nil {
		return nil, fmt.Errorf("http %s: %w", deps.CheckID, err)
	}
	method := strings.ToUpper(s.Method)
	if method == "" {
		method = http.MethodGet
	}
	timeout := defaultTimeout
	if deps.Timeout > 0 {
		timeout = deps.Timeout * 9 / 10
	}
	var body []byte
	if s.GraphQL != nil {
		if method == http.MethodGet && s.Method == "" {
			method = http.MethodPost
		}
		if body, err = s.GraphQL.body(); err != nil {
			return nil, fmt.Errorf("http %s: graphql body: %w", deps.CheckID, err)
		}
	} else if s.Body != "" {
		body = []byte(s.Body)
	}
	transport := deps.HTTP
	if transport == nil || s.rootCAs != nil {
		// A check of its own (or with its own CAs): no idle connection to keep.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true
		if s.rootCAs != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
		}
		transport = t
	}
	secrets := secretsOf(u)
	for _, v := range s.headerSecrets() {
		if len(v) >= 4 { // a shorter value ("1", "en") would mangle text
			secrets = append(secrets, v)
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	return &Check{
		id:      deps.CheckID,
		spec:    *s,
		method:  method,
		url:     u.String(),
		key:     Key(s.URL),
		body:    body,
		secrets: secrets,
		timeout: timeout,
		now:     time.Now,
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > MaxRedirects { // via holds the first request and each redirect followed
					return fmt.Errorf("stopped after %d redirects", MaxRedirects)
				}
				return nil
			},
		},
	}, nil
}

// Check is a runnable http check.
type Check struct {
	id      string
	spec    Spec
	method  string
	url     string
	key     string
	body    []byte   // the request body (body, or graphql's JSON)
	secrets []string // texts that must never be shown, longest first
	timeout time.Duration
	now     func() time.Time
	client  *http.Client
}

// Run calls the endpoint once. A wrong status or body fails, a response
// slower than max_latency warns, and a refused connection, a reset or a
// timeout fails with the cause in the detail: the check ran, the endpoint
// is down. Run returns an error only when ctx is cancelled.
func (c *Check) Run(ctx context.Context) (checks.Result, error) {
	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(reqCtx, c.method, c.url, body)
	if err != nil {
		return checks.Result{}, fmt.Errorf("http %s: build request for %s: %s", c.id, c.key, c.scrub(err.Error()))
	}
	if c.spec.GraphQL != nil {
		// GraphQL over HTTP: a JSON request, and a JSON answer preferred in
		// the GraphQL media type (headers may set another Accept).
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/graphql-response+json, application/json;q=0.9")
	}
	for name, v := range c.spec.Headers {
		if strings.EqualFold(name, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(name, v)
	}
	for name, v := range c.spec.fileHeaders {
		req.Header.Set(name, v)
	}

	start := c.now()
	resp, err := c.client.Do(req)
	if err != nil {
		return c.down(ctx, err)
	}
	defer resp.Body.Close()
	read, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return c.down(ctx, err)
	}
	latency := c.now().Sub(start)
	whole := len(read) <= maxBody
	read = read[:min(len(read), maxBody)]

	status := checks.Pass
	var problems, facts []string
	if c.spec.ExpectStatus.accepts(resp.StatusCode) {
		facts = append(facts, fmt.Sprintf("status %d", resp.StatusCode))
	} else {
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("status %d, want %s", resp.StatusCode, c.spec.ExpectStatus))
	}
	if c.spec.BodyContains != "" && !strings.Contains(string(read), c.spec.BodyContains) {
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("body does not contain %q", c.spec.BodyContains))
	}
	var found []checks.Violation // json assertions, keyed by path
	if c.spec.ExpectStatus.accepts(resp.StatusCode) && (c.spec.GraphQL != nil || len(c.spec.JSON) > 0) {
		var problem string
		problem, found = c.inspect(read, whole, resp.Header.Get("Content-Type"))
		if problem != "" {
			status = checks.Fail
			problems = append(problems, problem)
		}
		if len(found) > 0 {
			status = checks.Fail
		}
	}
	if c.spec.TLS != nil {
		if st, problem := c.spec.TLS.expiry(resp.TLS, c.now()); st != checks.Pass {
			status = checks.Worst(status, st)
			problems = append(problems, problem)
		}
	}
	if c.spec.MaxLatency > 0 && latency > c.spec.MaxLatency {
		status = checks.Worst(status, checks.Warn)
		problems = append(problems, fmt.Sprintf("latency %s over max_latency %s", ms(latency), c.spec.MaxLatency))
	} else {
		facts = append(facts, "latency "+ms(latency))
	}
	var col checks.Collector
	for _, v := range found {
		col.Add(v)
	}
	if len(problems) > 0 {
		detail := strings.Join(problems, "; ")
		if len(facts) > 0 {
			detail += " (" + strings.Join(facts, ", ") + ")"
		}
		col.Add(checks.Violation{Key: c.key, Detail: c.scrub(detail)})
	}
	res := col.Result(status)
	res.Metrics = map[string]float64{checks.MetricMeasure: float64(latency.Microseconds()) / 1000} // latency in ms
	return res, nil
}

// inspect reads a JSON response: problem is why the response as a whole
// fails (too large to judge, not JSON, GraphQL errors), found the failed
// json assertions. Assertions are judged only on a whole JSON body. Every
// text is scrubbed of the check's secrets: an endpoint may echo them.
func (c *Check) inspect(body []byte, whole bool, contentType string) (problem string, found []checks.Violation) {
	switch {
	case !whole:
		return fmt.Sprintf("response body over %d bytes: graphql and json not judged", maxBody), nil
	case !gjson.ValidBytes(body):
		ct := contentType
		if ct == "" {
			ct = "none"
		}
		return fmt.Sprintf("response is not JSON (Content-Type %s, %d bytes)", cutRunes(ct, maxShown), len(body)), nil
	}
	if c.spec.GraphQL != nil {
		problem = c.scrub(graphQLErrors(body))
	}
	for _, a := range c.spec.JSON {
		if why := a.check(gjson.GetBytes(body, a.Path)); why != "" {
			found = append(found, checks.Violation{Key: a.Path, Detail: c.scrub(why)})
		}
	}
	return problem, found
}

// down reports a request that got no complete response. A cancelled ctx
// (shutdown) is an error; anything else fails with the cause.
func (c *Check) down(ctx context.Context, err error) (checks.Result, error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return checks.Result{}, fmt.Errorf("http %s: request to %s: %w", c.id, c.key, ctx.Err())
	}
	return c.violation(checks.Fail, "request failed: "+c.cause(err)), nil
}

// cause describes why a request failed, without the URL the http package
// puts in its errors.
func (c *Check) cause(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timed out after %s", c.timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the server closed the connection (" + c.scrub(err.Error()) + ")"
	}
	return c.scrub(err.Error())
}

func (c *Check) violation(status checks.Status, detail string) checks.Result {
	var col checks.Collector
	col.Add(checks.Violation{Key: c.key, Detail: detail})
	return col.Result(status)
}

var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// scrub removes credentials and query strings from any URL in s, and any
// secret of the configured URL wherever it appears.
func (c *Check) scrub(s string) string {
	s = urlInText.ReplaceAllStringFunc(s, Key)
	for _, secret := range c.secrets {
		s = strings.ReplaceAll(s, secret, "xxxxx")
	}
	return s
}

// secretsOf lists the URL's password, user name and query values.
func secretsOf(u *url.URL) []string {
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
		if n := u.User.Username(); n != "" {
			out = append(out, n)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 4 { // short values ("1", "en") are not secrets and would mangle text
				out = append(out, v)
			}
		}
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// ms rounds a latency to the millisecond.
func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
