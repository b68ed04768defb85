// Package httpcheck is the http kind: it calls one HTTP endpoint and checks
// its status, its body and how fast it answered.
//
// The URL's credentials and query string never appear in a violation key,
// a detail or an error: they often carry tokens.
package httpcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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

// maxBody bounds how much of a response body is read for body_contains.
const maxBody = 1 << 20

// defaultTimeout bounds a request when the check has no timeout.
const defaultTimeout = 30 * time.Second

// Spec is an http check's configuration.
type Spec struct {
	URL     string            `yaml:"url"`
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

// Validate reports every problem with the configuration. No message quotes
// the URL's credentials or query string.
func (s *Spec) Validate(checks.SpecEnv) []checks.Problem {
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
	return ps
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
	transport := deps.HTTP
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true // a check of its own: no idle connection to keep
		transport = t
	}
	return &Check{
		id:      deps.CheckID,
		spec:    *s,
		method:  method,
		url:     u.String(),
		key:     Key(s.URL),
		secrets: secretsOf(u),
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
	secrets []string // texts that must never be shown
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
	if c.spec.Body != "" {
		body = strings.NewReader(c.spec.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, c.method, c.url, body)
	if err != nil {
		return checks.Result{}, fmt.Errorf("http %s: build request for %s: %s", c.id, c.key, c.scrub(err.Error()))
	}
	for name, v := range c.spec.Headers {
		if strings.EqualFold(name, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(name, v)
	}

	start := c.now()
	resp, err := c.client.Do(req)
	if err != nil {
		return c.down(ctx, err)
	}
	defer resp.Body.Close()
	read, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return c.down(ctx, err)
	}
	latency := c.now().Sub(start)

	status := checks.Pass
	var problems, facts []string
	if !c.spec.ExpectStatus.accepts(resp.StatusCode) {
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("status %d, want %s", resp.StatusCode, c.spec.ExpectStatus))
	}
	if c.spec.BodyContains != "" && !strings.Contains(string(read), c.spec.BodyContains) {
		status = checks.Fail
		problems = append(problems, fmt.Sprintf("body does not contain %q", c.spec.BodyContains))
	}
	slow := c.spec.MaxLatency > 0 && latency > c.spec.MaxLatency
	if slow {
		status = checks.Worst(status, checks.Warn)
		problems = append(problems, fmt.Sprintf("latency %s over max_latency %s", ms(latency), c.spec.MaxLatency))
	}
	if status == checks.Pass {
		var none checks.Collector
		return none.Result(checks.Pass), nil
	}
	// The facts that were fine, for the detail (formatted only now: most
	// runs pass).
	if c.spec.ExpectStatus.accepts(resp.StatusCode) {
		facts = append(facts, fmt.Sprintf("status %d", resp.StatusCode))
	}
	if !slow {
		facts = append(facts, "latency "+ms(latency))
	}
	detail := strings.Join(problems, "; ")
	if len(facts) > 0 {
		detail += " (" + strings.Join(facts, ", ") + ")"
	}
	return c.violation(status, detail), nil
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
