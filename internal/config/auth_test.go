package config_test

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vigilhq/vigil/internal/config"
)

func TestLoadAuth(t *testing.T) {
	cfg := load(t, filepath.Join("testdata", "good", "auth.yaml"))

	want := config.Auth{
		SessionTTL: 8 * time.Hour,
		Users: []config.User{
			{Name: "alice", PasswordHash: "$2a$04$hLIqOb.al/CtJ421MohJguauucW3KkTBC94rqUkgSYqop95Sy4OA6", Role: "admin", Line: 6},
			{Name: "bob", PasswordHash: "$2a$04$hLIqOb.al/CtJ421MohJguauucW3KkTBC94rqUkgSYqop95Sy4OA6", PasswordHashFile: "secrets/bob.hash", Role: "viewer", Line: 7},
			{Name: "carol@example.com", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0y0HgmJ8DUx0aH1pC5QlYQ8ryZqQkc2G6E6yNhQMSm0", Role: "operator", Line: 8},
		},
		Tokens: []config.Token{
			// token_sha256 is kept lowercased; token_file is hashed.
			{Name: "ci", SHA256: "948b8c2427cd29047839b8e4a27a08763f8befbafa86be5cce8e46217d75e58a", Role: "operator", Line: 12},
			{Name: "exec", SHA256: "a9c20145d45249d57858b39229212c8c4c8cd671c3d1153b0a983863107d9005", File: "secrets/exec.token", Role: "viewer", Line: 13},
		},
	}
	if !reflect.DeepEqual(cfg.Auth, want) {
		t.Errorf("Auth =\n%+v\nwant\n%+v", cfg.Auth, want)
	}
	if !cfg.Auth.Configured() {
		t.Error("Configured() = false with users and tokens")
	}
}

func TestAuthDefaults(t *testing.T) {
	tests := []struct {
		name string
		auth config.Auth
		want bool
	}{
		{name: "nothing", auth: config.Auth{}, want: false},
		{name: "ttl only", auth: config.Auth{SessionTTL: time.Hour}, want: false},
		{name: "a user", auth: config.Auth{Users: []config.User{{Name: "a"}}}, want: true},
		{name: "a token", auth: config.Auth{Tokens: []config.Token{{Name: "t"}}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.auth.Configured(); got != tt.want {
				t.Errorf("Configured() = %v, want %v", got, tt.want)
			}
		})
	}

	cfg := load(t, filepath.Join("testdata", "good", "minimal.yaml"))
	if want := (config.Auth{SessionTTL: config.DefaultSessionTTL}); !reflect.DeepEqual(cfg.Auth, want) {
		t.Errorf("Auth without an auth section = %+v, want %+v", cfg.Auth, want)
	}
}
