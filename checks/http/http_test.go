package httpcheck_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
	httpcheck "github.com/vigilhq/vigil/checks/http"
)

func build(t *testing.T, spec httpcheck.Spec, timeout time.Duration) checks.Check {
	t.Helper()
	if ps := spec.Validate(checks.SpecEnv{}); len(ps) > 0 {
		t.Fatalf("spec problems: %v", ps)
	}
	c, err := spec.Build(checks.Deps{CheckID: "api", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// closedURL returns a URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestRun(t *testing.T) {
	var loops atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: all good") })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
	mux.HandleFunc("/not-modified", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/slow-broken", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		w.WriteHeader(http.StatusBadGateway)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/hangup", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		loops.Add(1)
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/hop/", func(w http.ResponseWriter, r *http.Request) {
		n := strings.TrimPrefix(r.URL.Path, "/hop/")
		if n == "3" {
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
			return
		}
		http.Redirect(w, r, "/hop/"+string(rune(n[0]+1)), http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/post", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("X-Api-Key") != "k-123" || string(body) != `{"q":1}` {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	refused := closedURL(t)

	const ms = `\d+(\.\d+)?m?s`
	tests := []struct {
		name    string
		spec    httpcheck.Spec
		timeout time.Duration
		status  checks.Status
		key     string
		detail  string // regexp for the one violation's detail; empty for none
	}{
		{name: "healthy", spec: httpcheck.Spec{URL: srv.URL + "/ok", BodyContains: "all good", MaxLatency: 5 * time.Second}, status: checks.Pass},
		{name: "server error fails", spec: httpcheck.Spec{URL: srv.URL + "/broken"}, status: checks.Fail,
			key: srv.URL + "/broken", detail: `^status 500, want 200-299 \(latency ` + ms + `\)$`},
		{name: "single expected status", spec: httpcheck.Spec{URL: srv.URL + "/ok", ExpectStatus: httpcheck.StatusCodes{204}}, status: checks.Fail,
			key: srv.URL + "/ok", detail: `^status 200, want 204 \(latency ` + ms + `\)$`},
		{name: "listed expected status", spec: httpcheck.Spec{URL: srv.URL + "/not-modified", ExpectStatus: httpcheck.StatusCodes{200, 304}}, status: checks.Pass},
		{name: "unlisted status", spec: httpcheck.Spec{URL: srv.URL + "/broken", ExpectStatus: httpcheck.StatusCodes{200, 304}}, status: checks.Fail,
			key: srv.URL + "/broken", detail: `^status 500, want one of 200, 304 \(latency ` + ms + `\)$`},
		{name: "body without the text fails", spec: httpcheck.Spec{URL: srv.URL + "/ok", BodyContains: "ready"}, status: checks.Fail,
			key: srv.URL + "/ok", detail: `^body does not contain "ready" \(status 200, latency ` + ms + `\)$`},
		{name: "slow response warns", spec: httpcheck.Spec{URL: srv.URL + "/slow", MaxLatency: 20 * time.Millisecond}, status: checks.Warn,
			key: srv.URL + "/slow", detail: `^latency ` + ms + ` over max_latency 20ms \(status 200\)$`},
		{name: "slow and broken fails", spec: httpcheck.Spec{URL: srv.URL + "/slow-broken", MaxLatency: 20 * time.Millisecond}, status: checks.Fail,
			key: srv.URL + "/slow-broken", detail: `^status 502, want 200-299; latency ` + ms + ` over max_latency 20ms$`},
		{name: "timeout fails with the cause", spec: httpcheck.Spec{URL: srv.URL + "/hang"}, timeout: 200 * time.Millisecond, status: checks.Fail,
			key: srv.URL + "/hang", detail: `^request failed: timed out after 180ms$`},
		{name: "closed connection fails", spec: httpcheck.Spec{URL: srv.URL + "/hangup"}, status: checks.Fail,
			key: srv.URL + "/hangup", detail: `^request failed: the server closed the connection \(EOF\)$`},
		{name: "refused connection fails", spec: httpcheck.Spec{URL: refused + "/health"}, status: checks.Fail,
			key: refused + "/health", detail: `^request failed: dial tcp 127\.0\.0\.1:\d+: connect: connection refused$`},
		{name: "redirect loop fails", spec: httpcheck.Spec{URL: srv.URL + "/loop"}, status: checks.Fail,
			key: srv.URL + "/loop", detail: `^request failed: stopped after 10 redirects$`},
		{name: "redirects are followed", spec: httpcheck.Spec{URL: srv.URL + "/hop/0", BodyContains: "all good"}, status: checks.Pass},
		{name: "method, headers and body are sent", spec: httpcheck.Spec{URL: srv.URL + "/post", Method: "post",
			Headers: map[string]string{"X-Api-Key": "k-123"}, Body: `{"q":1}`, ExpectStatus: httpcheck.StatusCodes{201}, BodyContains: "created"}, status: checks.Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			res, err := build(t, tt.spec, timeout).Run(context.Background())
			if err != nil {
				t.Fatalf("run returned an error: %v", err)
			}
			if res.Status != tt.status {
				t.Fatalf("status = %s, want %s (sample %+v)", res.Status, tt.status, res.Sample)
			}
			if tt.detail == "" {
				if res.Violations != 0 || len(res.Sample) != 0 {
					t.Fatalf("violations = %d %+v, want none", res.Violations, res.Sample)
				}
				return
			}
			if res.Violations != 1 || len(res.Sample) != 1 || !reflect.DeepEqual(res.Keys, []string{tt.key}) {
				t.Fatalf("result = %d %+v keys %v, want one violation keyed %s", res.Violations, res.Sample, res.Keys, tt.key)
			}
			if v := res.Sample[0]; v.Key != tt.key || !regexp.MustCompile(tt.detail).MatchString(v.Detail) {
				t.Fatalf("violation = %+v, want key %s and detail matching %s", v, tt.key, tt.detail)
			}
		})
	}
	if n := loops.Load(); n != 11 {
		t.Errorf("redirect loop made %d requests, want 11 (the first and 10 redirects)", n)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	const user, pass, token = "svc-user", "s3cr3t-pass", "tok-9f8e7d6c"
	var gotUser, gotPass, gotToken atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		gotUser.Store(u)
		gotPass.Store(p)
		gotToken.Store(r.URL.Query().Get("token"))
		http.Error(w, "token "+r.URL.Query().Get("token")+" rejected", http.StatusUnauthorized)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop?token="+token, http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	withSecrets := func(base, path string) string {
		return strings.Replace(base, "http://", "http://"+user+":"+pass+"@", 1) + path + "?token=" + token + "&page=2"
	}
	refused := closedURL(t)

	tests := []struct {
		name    string
		url     string
		key     string
		cancel  bool
		timeout time.Duration
	}{
		{name: "wrong status", url: withSecrets(srv.URL, "/api"), key: srv.URL + "/api"},
		{name: "redirect loop", url: withSecrets(srv.URL, "/loop"), key: srv.URL + "/loop"},
		{name: "refused", url: withSecrets(refused, "/api"), key: refused + "/api"},
		{name: "timeout", url: withSecrets(srv.URL, "/hang"), key: srv.URL + "/hang", timeout: 100 * time.Millisecond},
		{name: "cancelled", url: withSecrets(srv.URL, "/hang"), key: srv.URL + "/hang", cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			res, err := build(t, httpcheck.Spec{URL: tt.url, BodyContains: token}, timeout).Run(ctx)
			shown := []string{}
			if err != nil {
				shown = append(shown, err.Error())
			}
			for _, v := range res.Sample {
				shown = append(shown, v.Key, v.Detail)
			}
			shown = append(shown, res.Keys...)
			if tt.cancel {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled run: error = %v, want context.Canceled", err)
				}
			} else if err != nil || res.Status != checks.Fail || len(res.Sample) != 1 || res.Sample[0].Key != tt.key {
				t.Fatalf("result = %s %+v, error %v; want one fail keyed %s", res.Status, res.Sample, err, tt.key)
			}
			for _, s := range shown {
				for _, secret := range []string{pass, user, token, "token="} {
					if strings.Contains(s, secret) {
						t.Errorf("%q shows %q", s, secret)
					}
				}
			}
		})
	}
	if gotUser.Load() != user || gotPass.Load() != pass || gotToken.Load() != token {
		t.Errorf("server got user %v, password %v, token %v; the credentials and query must still be sent", gotUser.Load(), gotPass.Load(), gotToken.Load())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		spec httpcheck.Spec
		want []checks.Problem
	}{
		{name: "minimal", spec: httpcheck.Spec{URL: "https://api.example.com/health"}},
		{name: "no url", spec: httpcheck.Spec{}, want: []checks.Problem{{Field: "url", Msg: "url is required"}}},
		{name: "not http, secret not quoted", spec: httpcheck.Spec{URL: "ftp://u:hunter2@example.com/?token=abc"},
			want: []checks.Problem{{Field: "url", Msg: "url must start with http:// or https://"}}},
		{name: "everything wrong", spec: httpcheck.Spec{URL: "http:///path", Method: "GE T", Headers: map[string]string{"Bad Header": "x", "X-Ok": "a\nb"},
			ExpectStatus: httpcheck.StatusCodes{200, 999}, MaxLatency: -time.Second},
			want: []checks.Problem{
				{Field: "url", Msg: "url has no host"},
				{Field: "method", Msg: `method "GE T" is not an HTTP method`},
				{Field: "headers", Msg: `header name "Bad Header" is not valid`},
				{Field: "headers.X-Ok", Msg: "header X-Ok must not contain a line break"},
				{Field: "expect_status[1]", Msg: "status 999 is not between 100 and 599"},
				{Field: "max_latency", Msg: "max_latency must not be negative"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Validate(checks.SpecEnv{}); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    httpcheck.Spec
		wantErr string
	}{
		{name: "single status and latency", yaml: "url: http://x/\nexpect_status: 204\nmax_latency: 800ms\n",
			want: httpcheck.Spec{URL: "http://x/", ExpectStatus: httpcheck.StatusCodes{204}, MaxLatency: 800 * time.Millisecond}},
		{name: "status list", yaml: "url: http://x/\nexpect_status: [200, 301]\n",
			want: httpcheck.Spec{URL: "http://x/", ExpectStatus: httpcheck.StatusCodes{200, 301}}},
		{name: "status text", yaml: "url: http://x/\nexpect_status: 2xx\n", wantErr: "expect_status must be a status code or a list of status codes"},
		{name: "thresholds do not apply", yaml: "url: http://x/\nwarn_above: 1\n", wantErr: "field warn_above not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := httpcheck.Kind.NewSpec()
			dec := yaml.NewDecoder(strings.NewReader(tt.yaml))
			dec.KnownFields(true)
			err := dec.Decode(spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := *spec.(*httpcheck.Spec); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name, url, want string
	}{
		{name: "plain", url: "https://api.example.com/health", want: "https://api.example.com/health"},
		{name: "credentials, port, query and fragment", url: "https://u:p@api.example.com:8443/a/b?token=x&y=1#frag", want: "https://api.example.com:8443/a/b"},
		{name: "user only", url: "http://bob@h/", want: "http://h/"},
		{name: "no path", url: "http://h?k=v", want: "http://h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpcheck.Key(tt.url); got != tt.want {
				t.Fatalf("Key(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

// connCounter is a test server that counts the connections it accepted
// and those still open.
type connCounter struct {
	*httptest.Server
	accepted, open atomic.Int32
}

func newConnCounter(t *testing.T) *connCounter {
	c := &connCounter{}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			c.accepted.Add(1)
			c.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			c.open.Add(-1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// TestSharedPoolKeepsConnectionsAlive: checks sharing NewTransport reuse
// one persistent connection to a host (HTTP/1.1 connections persist
// unless either side says "close", RFC 9112 section 9.3), so ten runs of
// two checks make one connection; and the pool keeps at most MaxIdleConns
// idle connections however many hosts the checks call, so keep-alive does
// not hold a connection per check.
func TestSharedPoolKeepsConnectionsAlive(t *testing.T) {
	pool := httpcheck.NewTransport()
	defer pool.CloseIdleConnections()
	one := newConnCounter(t)
	var cs []checks.Check
	for _, path := range []string{"/a", "/b"} {
		c, err := (&httpcheck.Spec{URL: one.URL + path}).Build(checks.Deps{CheckID: "api" + path[1:], Timeout: 5 * time.Second, HTTP: pool})
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for i := range 10 {
		r, err := cs[i%2].Run(context.Background())
		if err != nil || r.Status != checks.Pass {
			t.Fatalf("run %d: %+v %v", i, r, err)
		}
	}
	if n := one.accepted.Load(); n != 1 {
		t.Errorf("10 runs of 2 checks on one host made %d connections, want 1", n)
	}

	hosts := make([]*connCounter, httpcheck.MaxIdleConns+8)
	for i := range hosts {
		hosts[i] = newConnCounter(t)
		c, err := (&httpcheck.Spec{URL: hosts[i].URL}).Build(checks.Deps{CheckID: "host", Timeout: 5 * time.Second, HTTP: pool})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := c.Run(context.Background()); err != nil || r.Status != checks.Pass {
			t.Fatalf("host %d: %+v %v", i, r, err)
		}
	}
	openConns := func() int {
		n := int(one.open.Load())
		for _, h := range hosts {
			n += int(h.open.Load())
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); openConns() > httpcheck.MaxIdleConns; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections stay open after runs on %d hosts, want at most %d", openConns(), len(hosts)+1, httpcheck.MaxIdleConns)
		}
	}
}

// TestLatencyMeasure: every run that got a response reports its latency
// in milliseconds as checks.MetricMeasure, whatever its status (the
// dashboard charts latency next to the violations); a run without a
// response has no latency to report.
func TestLatencyMeasure(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tt := range []struct {
		name     string
		spec     httpcheck.Spec
		min, max float64 // bounds of the measure, ms
	}{
		{name: "fast pass", spec: httpcheck.Spec{URL: srv.URL + "/ok"}, min: 0, max: 100},
		{name: "slow warn", spec: httpcheck.Spec{URL: srv.URL + "/slow", MaxLatency: 20 * time.Millisecond}, min: 120, max: 10_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := build(t, tt.spec, 10*time.Second).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got, ok := res.Metrics[checks.MetricMeasure]
			if !ok || got < tt.min || got > tt.max {
				t.Errorf("measure = %v (%v), want a latency between %vms and %vms", got, ok, tt.min, tt.max)
			}
		})
	}
	res, err := build(t, httpcheck.Spec{URL: closedURL(t) + "/health"}, 10*time.Second).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Metrics[checks.MetricMeasure]; ok {
		t.Errorf("a refused connection reports a latency: %v", res.Metrics)
	}
}
