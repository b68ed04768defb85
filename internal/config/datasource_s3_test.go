package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilhq/vigil/internal/config"
)

// An s3 datasource is an account and a region, like an sqs one: region is
// required, endpoint optional (an S3-compatible server), credentials come
// from the AWS default chain and never from the config.
func TestLoadS3Datasource(t *testing.T) {
	t.Setenv("VIGIL_TEST_S3_ENDPOINT", "http://127.0.0.1:9000")
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	body := `datasources:
  landing: {driver: s3, region: eu-west-1, endpoint: "${VIGIL_TEST_S3_ENDPOINT}"}
  archive: {driver: s3, region: us-east-1}
checks:
  - id: landing
    kind: fake_objects
    datasource: landing
    prefixes: [raw/sales/]
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	want := map[string]config.Datasource{
		"landing": {Name: "landing", Driver: config.DriverS3, Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000", Line: 2},
		"archive": {Name: "archive", Driver: config.DriverS3, Region: "us-east-1", Line: 3},
	}
	for name, w := range want {
		if got := cfg.Datasources[name]; got != w {
			t.Errorf("datasource %s = %+v, want %+v", name, got, w)
		}
	}
	if len(cfg.SecretValues()) != 0 {
		t.Errorf("SecretValues = %q: an s3 datasource holds no secret", cfg.SecretValues())
	}
}
