package s3freshness_test

import (
	"reflect"
	"testing"

	"github.com/vigilhq/vigil/checks"
	"github.com/vigilhq/vigil/checks/internal/kindtest"
	"github.com/vigilhq/vigil/checks/s3freshness"
)

// Every configuration mistake is reported at once, each at its field (the
// loader turns the field into a line). Bucket names follow S3's naming
// rules; keys have no leading slash and at most 1,024 UTF-8 bytes.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec string
		want []checks.Problem
	}{
		{"valid", `{bucket: acme-landing.eu, max_pages: 10, prefixes: [{prefix: raw/sales/, warn_after: 2h, error_after: 6h, min_objects: 0, min_bytes: 0}]}`, nil},
		{"nothing", `{}`, []checks.Problem{
			{Field: "bucket", Msg: "bucket is required"},
			{Field: "prefixes", Msg: "prefixes is required: list at least one {prefix, warn_after}"},
		}},
		{"bucket as a URL", `{bucket: "s3://acme/raw", prefixes: [{prefix: raw/, warn_after: 1h}]}`, []checks.Problem{
			{Field: "bucket", Msg: `bucket must be a bucket name, not a path or URL: got "s3://acme/raw" (put the path in prefixes)`},
		}},
		{"bucket not an S3 name", `{bucket: Acme_Landing, prefixes: [{prefix: raw/, warn_after: 1h}]}`, []checks.Problem{
			{Field: "bucket", Msg: `bucket "Acme_Landing" is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-')`},
		}},
		{"prefix mistakes", `{bucket: acme, max_pages: -1, prefixes: [
			{prefix: "", warn_after: 1h},
			{prefix: /raw/, warn_after: 1h},
			{prefix: "s3://acme/raw/", warn_after: 1h},
			{prefix: raw/a/},
			{prefix: raw/a/, warn_after: 3h, error_after: 1h},
			{prefix: raw/b/, warn_after: -1h, min_objects: -1, min_bytes: -2},
		]}`, []checks.Problem{
			{Field: "prefixes[0].prefix", Msg: "prefix is required (e.g. raw/sales/)"},
			{Field: "prefixes[1].prefix", Msg: `prefix "/raw/" starts with '/': S3 keys have no leading slash`},
			{Field: "prefixes[2].prefix", Msg: `prefix must be a key prefix inside the bucket, not a URL: got "s3://acme/raw/"`},
			{Field: "prefixes[3].warn_after", Msg: "warn_after or error_after is required (e.g. warn_after: 2h)"},
			{Field: "prefixes[4].prefix", Msg: `duplicate prefix "raw/a/" (also prefixes[3])`},
			{Field: "prefixes[4].warn_after", Msg: "warn_after (3h) must not be longer than error_after (1h)"},
			{Field: "prefixes[5].warn_after", Msg: "warn_after must be positive, got -1h0m0s"},
			{Field: "prefixes[5].min_objects", Msg: "min_objects must not be negative, got -1"},
			{Field: "prefixes[5].min_bytes", Msg: "min_bytes must not be negative, got -2"},
			{Field: "max_pages", Msg: "max_pages must be between 1 and 10000, got -1"},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := kindtest.Decode(t, s3freshness.Kind, tt.spec).Validate(checks.SpecEnv{})
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
