package datasource_test

import (
	"testing"

	"github.com/vigilhq/vigil/internal/datasource"
)

func TestRedactSecrets(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "sentry dsn", in: "dsn https://abc123@o1.ingest.sentry.io/42", want: "dsn https://xxxxx@o1.ingest.sentry.io/42"},
		{name: "url password", in: "postgres://u:pw@db/x", want: "postgres://u:xxxxx@db/x"},
		{name: "slack webhook", in: `Post "https://hooks.slack.com/services/T0/B0/XyZ": EOF`, want: `Post "https://hooks.slack.com/services/xxxxx": EOF`},
		{name: "slack token", in: "token xoxb-123-456-abc used", want: "token xoxx-xxxxx used"},
		{name: "bearer", in: "Authorization: Bearer abcdefghijkl", want: "Authorization: Bearer xxxxx"},
		{name: "key value", in: "api_key=s3cr3t&x=1 token: abc", want: "api_key=xxxxx&x=1 token: xxxxx"},
		{name: "json", in: `{"password": "hunter2", "user": "bob"}`, want: `{"password": "xxxxx", "user": "bob"}`},
		{name: "plain text", in: "3 policies miss EN-FLOOD-01", want: "3 policies miss EN-FLOOD-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := datasource.RedactSecrets(tt.in); got != tt.want {
				t.Errorf("RedactSecrets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
