package httpcheck_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/checks"
	httpcheck "github.com/vigilhq/vigil/checks/http"
)

// decode reads a spec as the config loader does (strict YAML) and
// validates it against dir.
func decode(t *testing.T, dir, spec string) *httpcheck.Spec {
	t.Helper()
	var s httpcheck.Spec
	dec := yaml.NewDecoder(strings.NewReader(spec))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode %s: %v", spec, err)
	}
	if ps := s.Validate(checks.SpecEnv{BaseDir: dir}); len(ps) > 0 {
		t.Fatalf("spec problems: %+v", ps)
	}
	return &s
}

func runSpec(t *testing.T, s *httpcheck.Spec) checks.Result {
	t.Helper()
	c, err := s.Build(checks.Deps{CheckID: "api", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// graphQLServer is a GraphQL-over-HTTP endpoint as AppSync behaves: a
// POST of application/json {"query", "variables", "operationName"} is
// answered 200 with {"data": ...} and, when a resolver failed, an "errors"
// list beside partial data. It answers each request with the next of
// answers (the last one repeats) and keeps what it received.
type graphQLServer struct {
	*httptest.Server
	mu       sync.Mutex
	answers  []string
	received []gqlRequest
}

type gqlRequest struct {
	Method, ContentType, Accept, APIKey string
	Body                                map[string]any
}

func newGraphQLServer(t *testing.T, answers ...string) *graphQLServer {
	g := &graphQLServer{answers: answers}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			body = map[string]any{"unparsable": string(raw)}
		}
		g.mu.Lock()
		g.received = append(g.received, gqlRequest{r.Method, r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("X-Api-Key"), body})
		answer := g.answers[min(len(g.received), len(g.answers))-1]
		g.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *graphQLServer) last() gqlRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.received[len(g.received)-1]
}

const latency = `\d+(\.\d+)?m?s`

// The request is what GraphQL over HTTP prescribes: a POST whose body is
// the JSON object {"query", "variables", "operationName"} with
// Content-Type application/json, accepting application/graphql-response+json.
func TestGraphQLRequest(t *testing.T) {
	srv := newGraphQLServer(t, `{"data":{"quote":{"premium":412.5}}}`)
	s := decode(t, "", `
url: `+srv.URL+`/graphql
graphql:
  query: "query Quote($state: String!, $coverages: [String!]) { quote(state: $state, coverages: $coverages) { premium } }"
  variables: {state: FL, coverages: [flood, wind], limit: 250000}
  operation_name: Quote
`)
	if res := runSpec(t, s); res.Status != checks.Pass {
		t.Fatalf("status %s %+v, want pass", res.Status, res.Sample)
	}
	got := srv.last()
	want := gqlRequest{Method: http.MethodPost, ContentType: "application/json", Accept: "application/graphql-response+json, application/json;q=0.9", Body: map[string]any{
		"query":         "query Quote($state: String!, $coverages: [String!]) { quote(state: $state, coverages: $coverages) { premium } }",
		"variables":     map[string]any{"state": "FL", "coverages": []any{"flood", "wind"}, "limit": 250000.0},
		"operationName": "Quote",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("request\n got %+v\nwant %+v", got, want)
	}
}

// AppSync answers 200 with {"data": ..., "errors": [...]} when a resolver
// fails: that is a failure, whose detail is the first error's message and
// path, cut to 200 characters on a character boundary.
func TestGraphQLErrors(t *testing.T) {
	long := strings.Repeat("é", 250) // 2 bytes each: a byte cut would split one
	for _, tt := range []struct {
		name, answer, detail string
	}{
		{"no errors", `{"data":{"quote":{"premium":1}}}`, ""},
		{"empty errors list", `{"data":{"quote":{"premium":1}},"errors":[]}`, ""},
		{"errors beside partial data",
			`{"data":{"quote":null},"errors":[{"message":"Cannot return null for non-nullable type: 'Float' within parent 'Quote'","path":["quote","premium"],"errorType":"MappingTemplate"},{"message":"second","path":["quote"]}]}`,
			`^GraphQL error: Cannot return null for non-nullable type: 'Float' within parent 'Quote' \(path quote\.premium\) and 1 more \(status 200, latency ` + latency + `\)$`},
		{"list indexes in the path", `{"data":null,"errors":[{"message":"boom","path":["policies",2,"endorsements",0]}]}`,
			`^GraphQL error: boom \(path policies\[2\]\.endorsements\[0\]\) \(status 200, latency ` + latency + `\)$`},
		{"request error without data", `{"errors":[{"message":"Validation error of type FieldUndefined: Field 'premum' in type 'Quote' is undefined"}]}`,
			`^GraphQL error: Validation error of type FieldUndefined: Field 'premum' in type 'Quote' is undefined \(status 200`},
		{"a long message is cut on a character", `{"errors":[{"message":"` + long + `"}]}`,
			`^GraphQL error: ` + strings.Repeat("é", 199) + `… \(status 200`},
		{"errors that is not a list", `{"errors":{"message":"x"}}`, `^GraphQL response's errors is not a list \(status 200`},
		{"neither data nor errors", `{"message":"Internal server error"}`, `^GraphQL response has neither data nor errors \(status 200`},
		{"not JSON", `<html>502 Bad Gateway</html>`, `^response is not JSON \(Content-Type application/json, 28 bytes\) \(status 200`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newGraphQLServer(t, tt.answer)
			res := runSpec(t, decode(t, "", `{url: "`+srv.URL+`/graphql", graphql: {query: "{ quote { premium } }"}}`))
			if tt.detail == "" {
				if res.Status != checks.Pass {
					t.Fatalf("status %s %+v, want pass", res.Status, res.Sample)
				}
				return
			}
			if res.Status != checks.Fail || res.Violations != 1 || res.Sample[0].Key != srv.URL+"/graphql" {
				t.Fatalf("result %s %+v, want one failing violation keyed by the URL", res.Status, res.Sample)
			}
			d := res.Sample[0].Detail
			if !regexp.MustCompile(tt.detail).MatchString(d) || !utf8.ValidString(d) {
				t.Fatalf("detail %q does not match %s", d, tt.detail)
			}
		})
	}
}

// JSON assertions, one violation per failed assertion keyed by its GJSON
// path. JSON types are kept apart (RFC 8259: a string "1" is not the number
// 1); numbers compare by value; "#" counts an array.
func TestJSONAssertions(t *testing.T) {
	const doc = `{"status":"degraded","count":"3","data":{"quote":{"premium":412.50,"currency":"USD","discount":null,"bound":false},
		"items":[],"policies":[{"id":"P-1"},{"id":"P-2"}]}}`
	mux := http.NewServeMux()
	mux.HandleFunc("/doc", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, doc) })
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html>maintenance</html>")
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"message":"boom"}`, 500) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"pad":"`+strings.Repeat("x", 1<<20)+`","status":"ok"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, tt := range []struct {
		assertion string
		detail    string // "" when it holds
	}{
		{`{path: data.quote.premium, exists: true, min: 100, max: 10000}`, ""},
		{`{path: data.quote.premium, equals: 412.5}`, ""},
		{`{path: data.quote.premium, equals: 4.125e2}`, ""},
		{`{path: data.quote.currency, equals: USD}`, ""},
		{`{path: data.quote.bound, equals: false}`, ""},
		{`{path: data.policies.#, min: 2, max: 2}`, ""},
		{`{path: data.quote.refund, exists: false}`, ""},
		{`{path: data.quote.discount, exists: false}`, ""},
		{`{path: "data.policies.#(id==\"P-2\").id", equals: P-2}`, ""},
		{`{path: status, equals: ok}`, `"degraded", want "ok"`},
		{`{path: data.quote.tax, exists: true}`, "missing, want a value"},
		{`{path: data.quote.discount, exists: true}`, "null, want a value"},
		{`{path: data.quote.currency, exists: false}`, `"USD", want it absent or null`},
		{`{path: data.items.#, min: 1}`, "0, want at least 1"},
		{`{path: data.missing.#, min: 1}`, "missing, want a number at least 1"},
		{`{path: data.quote.premium, max: 400}`, "412.50, want at most 400"},
		{`{path: data.quote.premium, min: 500, max: 900}`, "412.50, want between 500 and 900"},
		{`{path: data.quote.premium, equals: 412.51}`, "412.50, want 412.51"},
		{`{path: count, equals: 3}`, `"3", want 3`},
		{`{path: count, min: 1}`, `"3", want a number at least 1`},
		{`{path: data.policies, min: 1}`, "an array of 2, want a number at least 1"},
		{`{path: data.quote, equals: x}`, `an object, want "x"`},
		{`{path: data.quote.bound, equals: "false"}`, `false, want "false"`},
	} {
		t.Run(tt.assertion, func(t *testing.T) {
			res := runSpec(t, decode(t, "", "url: "+srv.URL+"/doc\njson:\n  - "+tt.assertion+"\n"))
			path := regexp.MustCompile(`path: "?((?:[^",\\]|\\.)+)`).FindStringSubmatch(tt.assertion)[1]
			path = strings.ReplaceAll(path, `\"`, `"`)
			if tt.detail == "" {
				if res.Status != checks.Pass {
					t.Fatalf("status %s %+v, want pass", res.Status, res.Sample)
				}
				return
			}
			want := []checks.Violation{{Key: path, Detail: tt.detail}}
			if res.Status != checks.Fail || !reflect.DeepEqual(res.Sample, want) {
				t.Fatalf("result %s %+v, want fail %+v", res.Status, res.Sample, want)
			}
		})
	}

	t.Run("each failed assertion is one violation", func(t *testing.T) {
		res := runSpec(t, decode(t, "", "url: "+srv.URL+"/doc\njson: [{path: status, equals: ok}, {path: data.items.#, min: 1}, {path: data.quote.currency, equals: USD}]\n"))
		if res.Status != checks.Fail || res.Violations != 2 || !reflect.DeepEqual(res.Keys, []string{"data.items.#", "status"}) {
			t.Fatalf("result %s %d %v", res.Status, res.Violations, res.Keys)
		}
	})
	t.Run("a body that is not JSON is one violation on the URL", func(t *testing.T) {
		res := runSpec(t, decode(t, "", "url: "+srv.URL+"/html\njson: [{path: status, equals: ok}, {path: data.items.#, min: 1}]\n"))
		if res.Violations != 1 || res.Sample[0].Key != srv.URL+"/html" ||
			!regexp.MustCompile(`^response is not JSON \(Content-Type text/html; charset=utf-8, 24 bytes\) \(status 200, latency `+latency+`\)$`).MatchString(res.Sample[0].Detail) {
			t.Fatalf("result %s %+v", res.Status, res.Sample)
		}
	})
	t.Run("an unexpected status is not judged further", func(t *testing.T) {
		res := runSpec(t, decode(t, "", "url: "+srv.URL+"/broken\njson: [{path: status, equals: ok}]\n"))
		if res.Violations != 1 || res.Sample[0].Key != srv.URL+"/broken" || !strings.HasPrefix(res.Sample[0].Detail, "status 500, want 200-299") {
			t.Fatalf("result %s %+v", res.Status, res.Sample)
		}
	})
	t.Run("a body over 1 MiB is not judged on a prefix", func(t *testing.T) {
		res := runSpec(t, decode(t, "", "url: "+srv.URL+"/huge\njson: [{path: status, equals: ok}]\n"))
		if res.Violations != 1 || !strings.HasPrefix(res.Sample[0].Detail, "response body over 1048576 bytes: graphql and json not judged") {
			t.Fatalf("result %s %+v", res.Status, res.Sample)
		}
	})
}

// pki is a private CA for tests: a root, optionally an intermediate, and
// leaf certificates for 127.0.0.1 with chosen lifetimes.
type pki struct {
	t        *testing.T
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	rootPEM  []byte
	serial   int64
	notAfter time.Time // the root's
}

func newPKI(t *testing.T, rootLife time.Duration) *pki {
	t.Helper()
	p := &pki{t: t}
	p.root, p.rootKey = p.issue("vigil test root CA", nil, nil, time.Now().Add(-time.Hour), time.Now().Add(rootLife), true)
	p.rootPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw})
	return p
}

// issue makes a certificate signed by parent (self-signed when nil).
func (p *pki) issue(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, from, until time.Time, ca bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: from, NotAfter: until, BasicConstraintsValid: true, IsCA: ca,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		p.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		p.t.Fatal(err)
	}
	return cert, key
}

// serve starts an https server presenting a leaf that expires after life
// (through an intermediate expiring after interLife when that is not 0).
func (p *pki) serve(life, interLife time.Duration) *httptest.Server {
	p.t.Helper()
	now := time.Now()
	signer, signerKey := p.root, p.rootKey
	var chain [][]byte
	if interLife != 0 {
		signer, signerKey = p.issue("vigil test intermediate CA", p.root, p.rootKey, now.Add(-time.Hour), now.Add(interLife), true)
		chain = append(chain, signer.Raw)
	}
	leaf, leafKey := p.issue("quotes.internal.example", signer, signerKey, now.Add(-time.Hour), now.Add(life), false)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: append([][]byte{leaf.Raw}, chain...), PrivateKey: leafKey, Leaf: leaf}}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.StartTLS()
	p.t.Cleanup(srv.Close)
	return srv
}

// A certificate expiring within min_days_left warns and within
// error_days_left fails; whichever certificate of the verified chain
// expires first counts (an expired intermediate breaks every client as
// surely as an expired leaf). The server's CA is private: the check trusts
// exactly the CAs of tls.ca_file, as curl --cacert does.
func TestTLSDaysLeft(t *testing.T) {
	dir := t.TempDir()
	ca := newPKI(t, 10*365*24*time.Hour)
	if err := os.WriteFile(filepath.Join(dir, "private-ca.pem"), ca.rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	fiveDays := ca.serve(5*day+time.Hour, 0)
	healthy := ca.serve(90*day, 0)
	viaInter := ca.serve(90*day, 3*day+time.Hour)
	expired := ca.serve(-time.Hour, 0)

	for _, tt := range []struct {
		name, url, tls string
		status         checks.Status
		detail         string
	}{
		{"far from expiry", healthy.URL, `{min_days_left: 14, error_days_left: 3, ca_file: private-ca.pem}`, checks.Pass, ""},
		{"within min_days_left warns", fiveDays.URL, `{min_days_left: 14, ca_file: private-ca.pem}`, checks.Warn,
			`^certificate "quotes.internal.example" expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in 5d \(min_days_left 14\) \(status 200, latency ` + latency + `\)$`},
		{"within error_days_left fails", fiveDays.URL, `{min_days_left: 14, error_days_left: 7, ca_file: private-ca.pem}`, checks.Fail,
			`^certificate "quotes.internal.example" expires .*, in 5d \(error_days_left 7\) \(status 200`},
		{"the intermediate expires first", viaInter.URL, `{min_days_left: 14, ca_file: private-ca.pem}`, checks.Warn,
			`^certificate "vigil test intermediate CA" expires .*, in 3d \(min_days_left 14\)`},
		{"ca_file only", fiveDays.URL, `{ca_file: private-ca.pem}`, checks.Pass, ""},
		{"without the private CA the request fails", healthy.URL, `{min_days_left: 14}`, checks.Fail,
			`^request failed: tls: failed to verify certificate: x509: certificate signed by unknown authority`},
		{"an expired certificate fails the request", expired.URL, `{min_days_left: 14, ca_file: private-ca.pem}`, checks.Fail,
			`^request failed: tls: failed to verify certificate: x509: certificate has expired or is not yet valid`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := runSpec(t, decode(t, dir, "url: "+tt.url+"/health\ntls: "+tt.tls+"\n"))
			if res.Status != tt.status {
				t.Fatalf("status %s %+v, want %s", res.Status, res.Sample, tt.status)
			}
			if tt.detail == "" {
				return
			}
			if res.Violations != 1 || res.Sample[0].Key != tt.url+"/health" || !regexp.MustCompile(tt.detail).MatchString(res.Sample[0].Detail) {
				t.Fatalf("sample %+v, want detail matching %s", res.Sample, tt.detail)
			}
		})
	}
}

// Header credentials from ${ENV} or headers_file never show: an endpoint
// that echoes a rejected key in its GraphQL error or in a JSON field (many
// do: "invalid API key da2-...") has it masked in the detail.
func TestHeaderSecretsNeverShown(t *testing.T) {
	const fileKey, envToken = "da2-filekey-5b1c9e", "eyJhbGciOi.envtoken.31337"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "appsync.key"), []byte(fileKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := "API key " + r.Header.Get("X-Api-Key") + " is not authorized; token " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") + " expired"
		body, _ := json.Marshal(map[string]any{"data": map[string]any{"echo": msg}, "errors": []any{map[string]any{"message": msg, "path": []any{"quote"}}}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	t.Setenv("VIGIL_TEST_TOKEN", envToken)
	// The config loader expands ${ENV} before a spec is decoded.
	spec := decode(t, dir, os.ExpandEnv(`
url: `+srv.URL+`/graphql
headers: {Authorization: "Bearer ${VIGIL_TEST_TOKEN}"}
headers_file: {X-Api-Key: appsync.key}
graphql: {query: "{ quote { premium } }"}
json: [{path: data.echo, equals: ok}]
`))
	res := runSpec(t, spec)
	if res.Status != checks.Fail || res.Violations != 2 {
		t.Fatalf("result %s %+v, want two failing violations", res.Status, res.Sample)
	}
	for _, v := range res.Sample {
		for _, secret := range []string{fileKey, envToken} {
			if strings.Contains(v.Key+v.Detail, secret) {
				t.Errorf("violation %+v shows %q", v, secret)
			}
		}
		if !strings.Contains(v.Detail, "API key xxxxx is not authorized; token xxxxx expired") {
			t.Errorf("detail %q does not read with the secrets masked", v.Detail)
		}
	}
	// The file's key was sent, and both are secrets of the config (masked
	// in the script log and on pages).
	secrets := strings.Join(spec.Secrets(), "\n")
	for _, s := range []string{fileKey, envToken} {
		if !strings.Contains(secrets, s) {
			t.Errorf("Secrets() lacks %q", s)
		}
	}
}

// Every mistake in the new fields is reported at once, at its field; no
// message quotes a secret file's content.
func TestValidateBodyFields(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty.key": "  \n", "two-lines.key": "a\nb", "ok.key": "k-1234", "not-pem.pem": "hello"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, spec string
		want       []checks.Problem
	}{
		{"graphql", `{url: "https://api.example.com/graphql", method: GET, body: "{}", headers: {content-type: text/plain}, graphql: {variables: {a: 1}}}`, []checks.Problem{
			{Field: "graphql.query", Msg: "graphql.query is required"},
			{Field: "method", Msg: "a graphql request is a POST, not GET"},
			{Field: "body", Msg: "body and graphql are both set: graphql makes the body"},
			{Field: "headers.content-type", Msg: "a graphql request's Content-Type is application/json: leave it out of headers"},
		}},
		{"json", `{url: "https://api.example.com/", json: [{path: ""}, {path: a, exists: false, equals: 1}, {path: b, equals: [1]}, {path: c, min: 5, max: 1}, {path: c, exists: true}]}`, []checks.Problem{
			{Field: "json[0].path", Msg: "path is required (a GJSON path such as data.quote.premium)"},
			{Field: "json[0]", Msg: "an assertion needs exists, equals, min or max"},
			{Field: "json[1].exists", Msg: "exists: false cannot be combined with equals, min or max"},
			{Field: "json[2].equals", Msg: "equals must be a string, a number or true/false (for null use exists: false)"},
			{Field: "json[3].min", Msg: "min (5) must not be greater than max (1)"},
			{Field: "json[4].path", Msg: `path "c" is asserted twice (also json[3]): put both in one assertion`},
		}},
		{"json scalars YAML reads as something else", `{url: "https://api.example.com/", json: [{path: a, equals: 2026-12-03}, {path: b, equals: .nan}, {path: c, min: .inf}]}`, []checks.Problem{
			{Field: "json[0].equals", Msg: `equals reads as a YAML timestamp: quote it to compare a string (equals: "2026-12-03")`},
			{Field: "json[1].equals", Msg: "equals must be a finite number"},
			{Field: "json[2].min", Msg: "min must be a finite number"},
		}},
		{"tls", `{url: "http://api.example.com/", tls: {min_days_left: 7, error_days_left: 14}}`, []checks.Problem{
			{Field: "tls", Msg: "tls needs an https:// url"},
			{Field: "tls.error_days_left", Msg: "error_days_left (14) must not be greater than min_days_left (7)"},
		}},
		{"tls values", `{url: "https://api.example.com/", tls: {min_days_left: -1, error_days_left: -2}}`, []checks.Problem{
			{Field: "tls.min_days_left", Msg: "min_days_left must not be negative, got -1"},
			{Field: "tls.error_days_left", Msg: "error_days_left must not be negative, got -2"},
		}},
		{"tls empty", `{url: "https://api.example.com/", tls: {}}`, []checks.Problem{
			{Field: "tls", Msg: "tls needs min_days_left, error_days_left or ca_file"},
		}},
		{"ca_file missing", `{url: "https://api.example.com/", tls: {ca_file: nope.pem}}`, []checks.Problem{
			{Field: "tls.ca_file", Msg: `ca_file: cannot read "nope.pem": no such file or directory`},
		}},
		{"ca_file not PEM", `{url: "https://api.example.com/", tls: {ca_file: not-pem.pem}}`, []checks.Problem{
			{Field: "tls.ca_file", Msg: `ca_file: "not-pem.pem" holds no PEM certificate`},
		}},
		{"headers_file", `{url: "https://api.example.com/", headers: {X-Api-Key: a}, headers_file: {x-api-key: ok.key, "bad name": ok.key, A: empty.key, B: two-lines.key, C: missing.key}}`, []checks.Problem{
			{Field: "headers_file.A", Msg: `headers_file: "empty.key" is empty`},
			{Field: "headers_file.B", Msg: `headers_file: "two-lines.key" holds more than one line`},
			{Field: "headers_file.C", Msg: `headers_file: cannot read "missing.key": no such file or directory`},
			{Field: "headers_file", Msg: `header name "bad name" is not valid`},
			{Field: "headers_file.x-api-key", Msg: "header x-api-key is set in both headers and headers_file"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var s httpcheck.Spec
			if err := yaml.Unmarshal([]byte(tt.spec), &s); err != nil {
				t.Fatal(err)
			}
			got := s.Validate(checks.SpecEnv{BaseDir: dir})
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
