package web

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigilhq/vigil/docs"
	"github.com/vigilhq/vigil/internal/config"
	"github.com/vigilhq/vigil/internal/store"
)

// TestOpenAPIMatchesRoutes: docs/openapi.yaml (OpenAPI 3.1) describes
// exactly the routes the server registers under /api/v1, plus /healthz,
// /readyz and /metrics: a route added without documentation, or documented
// but gone, fails. Paths are compared in OpenAPI's template form
// (/checks/{id}; Fiber writes /checks/:id).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	st, err := store.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// With a status page, whose routes exist only when one is configured.
	cfg := &config.Config{StatusPage: &config.StatusPage{Title: "status", Groups: []config.StatusGroup{{Name: "all", Slug: "all"}}}}
	s, err := New(Options{Store: st, Config: cfg, Metrics: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	registered := map[string]bool{}
	for _, r := range s.app.GetRoutes(true) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch && r.Method != http.MethodDelete {
			continue // HEAD mirrors GET
		}
		if strings.HasPrefix(r.Path, "/api/v1/") || r.Path == "/healthz" || r.Path == "/readyz" || r.Path == "/metrics" {
			registered[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
		}
	}

	var doc struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(docs.OpenAPI(), &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi: %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	if len(registered) < 15 {
		t.Fatalf("only %d routes found: %v", len(registered), registered)
	}
	for _, r := range sortedKeys(registered) {
		if !documented[r] {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
	}
	for _, r := range sortedKeys(documented) {
		if !registered[r] {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not register", r)
		}
	}

	// Every $ref points at something the document defines.
	var whole map[string]any
	if err := yaml.Unmarshal(docs.OpenAPI(), &whole); err != nil {
		t.Fatal(err)
	}
	for _, ref := range regexp.MustCompile(`\$ref: "#/([^"]+)"`).FindAllStringSubmatch(string(docs.OpenAPI()), -1) {
		var cur any = whole
		for _, part := range strings.Split(ref[1], "/") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[part]
		}
		if cur == nil {
			t.Errorf("$ref #/%s resolves to nothing", ref[1])
		}
	}
}
