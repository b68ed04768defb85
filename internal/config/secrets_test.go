package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilhq/vigil/checks"
	httpcheck "github.com/vigilhq/vigil/checks/http"
	"github.com/vigilhq/vigil/internal/config"
)

// TestSecretValuesLibpqDSN: the password of a PostgreSQL keyword/value DSN
// is a secret value in every form libpq accepts (PostgreSQL docs, 34.1.1.1
// "Keyword/Value Connection Strings": "Spaces around the equal sign are
// optional. To write an empty value, or a value containing spaces, surround
// it with single quotes ... Single quotes and backslashes within a value
// must be escaped with a backslash, i.e., \' and \\."; libpq's
// conninfo_parse also unescapes a backslash in an unquoted value).
func TestSecretValuesLibpqDSN(t *testing.T) {
	tests := []struct{ name, dsn, password string }{
		{"plain", "host=db user=app password=hunter22 dbname=p", "hunter22"},
		{"spaces around =", "host=db password = hunter22 dbname=p", "hunter22"},
		{"quoted with spaces", "host=db password='correct horse' dbname=p", "correct horse"},
		{"escaped quote", `host=db password='it\'s mine' dbname=p`, "it's mine"},
		{"escaped backslash", `host=db password='back\\slash' dbname=p`, `back\slash`},
		{"unquoted escaped space", `host=db password=pa\ ss dbname=p`, "pa ss"},
		{"first of the line", `password =  'x y'  host=db`, "x y"},
		{"URL", "postgres://app:s3cr%2Ft@db/p", "s3cr/t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadYAML(t, "datasources:\n  p: {driver: postgres, dsn: \"${DSN}\"}\nchecks:\n  - {id: api, kind: http, url: \"http://127.0.0.1:1/\"}\n", map[string]string{"DSN": tt.dsn})
			if !containsAll(cfg.SecretValues(), tt.password, tt.dsn) {
				t.Errorf("SecretValues() = %q, want the DSN and its password %q", cfg.SecretValues(), tt.password)
			}
		})
	}
}

// TestSecretValuesHTTPCheck: the credentials an http check sends are
// secrets: the value of a header that carries them (RFC 9110 section 11.6.2
// Authorization: "credentials containing the authentication information";
// Cookie, RFC 6265; API-key headers such as AppSync's x-api-key), the
// credentials part after the scheme, query parameters that carry tokens or
// signatures, and the URL's user info (RFC 3986 section 3.2.1).
func TestSecretValuesHTTPCheck(t *testing.T) {
	yaml := `datasources: {}
checks:
  - id: api
    kind: http
    url: "https://bob:pw-4242@api.example.com/v1/health?token=tok-9999&format=json&X-Amz-Signature=sig-7777"
    headers:
      Authorization: "Bearer abc.def.ghi"
      x-api-key: "da2-appsynckey"
      Cookie: "session=c00kie"
      Accept: application/json
`
	cfg := loadYAML(t, yaml, nil)
	got := cfg.SecretValues()
	want := []string{"pw-4242", "tok-9999", "sig-7777", "Bearer abc.def.ghi", "abc.def.ghi", "da2-appsynckey", "session=c00kie"}
	if !containsAll(got, want...) {
		t.Errorf("SecretValues() = %q, want all of %q", got, want)
	}
	for _, v := range got {
		if v == "application/json" || v == "json" {
			t.Errorf("SecretValues() holds %q, which is not a secret", v)
		}
	}
}

func loadYAML(t *testing.T, body string, env map[string]string) *config.Config {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, checks.NewRegistry(httpcheck.Kind))
	if err != nil {
		t.Fatalf("load: %v", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cfg
}
