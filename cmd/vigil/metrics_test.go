package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestServeMetrics: `vigil serve` exposes Prometheus metrics at /metrics on
// its port, behind auth when auth is on (a viewer's API token; anonymous
// scrapes get 401 with a Bearer challenge, RFC 6750), and on
// server.metrics_listen without auth. The body parses as the text
// exposition format (expfmt) and names the documented series.
func TestServeMetrics(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer api.Close()
	const viewer = "metrics-viewer-token-0123456789abcdef"
	sum := sha256.Sum256([]byte(viewer))
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"scriptlog.key": testScriptlogKey, "vigil.yaml": `
server: {metrics_listen: "127.0.0.1:0"}
scriptlog: {key_file: scriptlog.key}
auth:
  tokens:
    - {name: prometheus, token_sha256: ` + hex.EncodeToString(sum[:]) + `, role: viewer}
checks:
  - {id: web-api, kind: http, url: "` + api.URL + `", schedule: "@every 1s"}
`})
	_, base, logs := startServe(t, filepath.Join(dir, "vigil.yaml"))

	get := func(url, token string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, h := get(base+"/metrics", ""); code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("anonymous /metrics = %d (WWW-Authenticate %q), want 401 with a Bearer challenge", code, h.Get("WWW-Authenticate"))
	}

	// The first run comes within one schedule period.
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for {
		var code int
		code, body, _ = get(base+"/metrics", viewer)
		if code != http.StatusOK {
			t.Fatalf("/metrics with a viewer token = %d %s", code, body)
		}
		if strings.Contains(body, `vigil_check_runs_total{check="web-api",kind="http",status="pass"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run counted after 30s:\n%s\n%s", body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not the text exposition format: %v", err)
	}
	for name, typ := range map[string]string{
		"vigil_check_runs_total": "COUNTER", "vigil_check_up": "GAUGE", "vigil_check_violations": "GAUGE",
		"vigil_check_duration_seconds": "HISTOGRAM", "vigil_scheduler_lag_seconds": "HISTOGRAM",
	} {
		if f, ok := fams[name]; !ok || f.GetType().String() != typ {
			t.Errorf("%s: %v, want a %s", name, f.GetType(), typ)
		}
	}

	m := regexp.MustCompile(`msg="metrics serving" listen=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no metrics_listen line in the log:\n%s", logs.String())
	}
	if code, body, _ := get("http://"+m[1]+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "vigil_check_runs_total") {
		t.Errorf("metrics_listen /metrics = %d without auth, want 200 with the metrics", code)
	}
	if code, _, _ := get("http://"+m[1]+"/api/v1/checks", ""); code != http.StatusNotFound {
		t.Errorf("metrics_listen serves /api/v1/checks: %d, want 404 (only /metrics)", code)
	}
}
