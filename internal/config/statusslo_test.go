package config_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

// TestLoadStatusPageAndSLOs: groups resolve to check ids (listed ids first,
// then the checks carrying a tag, in configuration order, each once), and
// SLO windows and objectives are read as written.
func TestLoadStatusPageAndSLOs(t *testing.T) {
	cfg := load(t, filepath.Join("testdata", "good", "statusslo.yaml"))
	want := &config.StatusPage{
		Title: "Acme policy services", Public: true, Line: 8,
		Names: map[string]string{"quote-api": "Quote API", "endorsements": "Policy endorsements"},
		Groups: []config.StatusGroup{
			{Name: "Quoting & Binding", Slug: "quoting-binding", Checks: []string{"quote-api"}, Line: 15},
			{Name: "Policies", Slug: "policies", Checks: []string{"transitions", "endorsements"}, Tags: []string{"team:policy"}, Line: 17},
		},
	}
	if !reflect.DeepEqual(cfg.StatusPage, want) {
		t.Errorf("StatusPage =\n%+v\nwant\n%+v", cfg.StatusPage, want)
	}
	if got := cfg.StatusPage.Name("transitions"); got != "transitions" {
		t.Errorf("Name(transitions) = %q, want the id", got)
	}
	wantSLOs := []config.SLO{
		{Name: "document-generation", Objective: 99.99, Window: 30 * 24 * time.Hour, WindowName: "30d", Checks: []string{"documents"}, Line: 21},
		{Name: "policy-data", Objective: 99.5, Window: 7 * 24 * time.Hour, WindowName: "7d", Checks: []string{"endorsements", "transitions"}, Tags: []string{"team:policy", "tier:1"}, Line: 25},
	}
	if !reflect.DeepEqual(cfg.SLOs, wantSLOs) {
		t.Errorf("SLOs =\n%+v\nwant\n%+v", cfg.SLOs, wantSLOs)
	}
}

func TestLoadWithoutStatusPage(t *testing.T) {
	cfg := load(t, filepath.Join("testdata", "good", "minimal.yaml"))
	if cfg.StatusPage != nil || cfg.SLOs != nil {
		t.Errorf("StatusPage, SLOs = %+v, %+v; want none", cfg.StatusPage, cfg.SLOs)
	}
}

func TestSlug(t *testing.T) {
	for name, want := range map[string]string{
		"Policies": "policies", "Quoting & Binding": "quoting-binding", "  API v2 ": "api-v2", "--x--": "x", "日本": "", "Ünïcode 9": "n-code-9",
	} {
		if got := config.Slug(name); got != want {
			t.Errorf("Slug(%q) = %q, want %q", name, got, want)
		}
	}
}
