package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

func TestSchedulerLeaseTTL(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    time.Duration
	}{
		{name: "default", section: "", want: config.DefaultLeaseTTL},
		{name: "empty section", section: "scheduler: {}\n", want: config.DefaultLeaseTTL},
		{name: "set", section: "scheduler: {lease_ttl: 3s}\n", want: 3 * time.Second},
		{name: "minimum", section: "scheduler: {lease_ttl: 1s}\n", want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yaml")
			body := tt.section + "datasources: {}\nchecks:\n  - {id: api, kind: fake_http, url: 'http://127.0.0.1:1/'}\n"
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := load(t, path).Scheduler.LeaseTTL; got != tt.want {
				t.Errorf("Scheduler.LeaseTTL = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSchedulerMaxConcurrent(t *testing.T) {
	for _, tt := range []struct {
		name    string
		section string
		want    int
	}{
		{name: "default", section: "", want: config.DefaultMaxConcurrent},
		{name: "set", section: "scheduler: {max_concurrent: 8}\n", want: 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vigil.yaml")
			body := tt.section + "datasources: {}\nchecks:\n  - {id: api, kind: fake_http, url: 'http://127.0.0.1:1/'}\n"
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := load(t, path).Scheduler.MaxConcurrent; got != tt.want {
				t.Errorf("Scheduler.MaxConcurrent = %d, want %d", got, tt.want)
			}
		})
	}
}
