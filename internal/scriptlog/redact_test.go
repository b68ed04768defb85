package scriptlog

import (
	"strings"
	"testing"
)

// TestRedactStringCorpus checks the free-text rules on the shapes secrets
// take in command lines and script output.
func TestRedactStringCorpus(t *testing.T) {
	r := NewRedactor([]string{"x-tenant-code"}, []string{"s3cr3t-literal"})
	tests := []struct {
		name, in, want string
	}{
		{"password flag with equals", "tool --password=hunter2 --user bob", "tool --password=[REDACTED] --user bob"},
		{"password flag in quotes", `sh -c "app --password='a b' -v"`, `sh -c "app --password='[REDACTED]' -v"`},
		{"PGPASSWORD env style", "PGPASSWORD=pa55word psql -h db", "PGPASSWORD=[REDACTED] psql -h db"},
		{"MYSQL_PWD env style", "MYSQL_PWD=pa55word mysql", "MYSQL_PWD=[REDACTED] mysql"},
		{"AWS secret env", "AWS_SECRET_ACCESS_KEY=abc export", "AWS_SECRET_ACCESS_KEY=[REDACTED] export"},
		{"postgres URL user info", "psql postgres://app:pa55@db.internal:5432/policies", "psql postgres://app:[REDACTED]@db.internal:5432/policies"},
		{"password containing @", "postgres://app:p@ss@db/x", "postgres://app:[REDACTED]@db/x"},
		{"URL without password kept", "ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"},
		{"token-like URL user info", "https://ghs_0123456789abcdefXYZ@github.com/o/r.git", "https://[REDACTED]@github.com/o/r.git"},
		{"go-sql-driver DSN", "app:pa55@tcp(db:3306)/warehouse?parseTime=true", "app:[REDACTED]@tcp(db:3306)/warehouse?parseTime=true"},
		{"go-sql-driver unix DSN", "root:toor@unix(/run/mysqld.sock)/db", "root:[REDACTED]@unix(/run/mysqld.sock)/db"},
		{"libpq key=value DSN", "host=db user=app password=pa55 dbname=x", "host=db user=app password=[REDACTED] dbname=x"},
		{"token in query", "curl https://api.example.com/v1/items?token=abc123&limit=5", "curl https://api.example.com/v1/items?token=[REDACTED]&limit=5"},
		{"api_key in query", "https://x.io/q?limit=1&api_key=k-123", "https://x.io/q?limit=1&api_key=[REDACTED]"},
		{"access_token in query", "https://x.io/cb#state=1?access_token=zzz", "https://x.io/cb#state=1?access_token=[REDACTED]"},
		{"signed S3 URL", "https://b.s3.amazonaws.com/k?X-Amz-Credential=cred1&X-Amz-Signature=f00d&X-Amz-Expires=60", "https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]&X-Amz-Expires=60"},
		{"sig query param", "https://blob.core.windows.net/c?sv=2020&sig=AbC%2Fd", "https://blob.core.windows.net/c?sv=2020&sig=[REDACTED]"},
		{"authorization bearer header", "curl -H 'Authorization: Bearer abc.def.ghi' https://x", "curl -H 'Authorization: Bearer [REDACTED]' https://x"},
		{"authorization basic header", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"},
		{"bare bearer token", "sending bearer 0123456789abcdef now", "sending bearer [REDACTED] now"},
		{"JSON authorization", `{"Authorization": "Bearer abc"}`, `{"Authorization": "[REDACTED]"}`},
		{"api key header", "-H 'X-Api-Key: k123456'", "-H 'X-Api-Key: [REDACTED]'"},
		{"cookie header", "Cookie: session=abcdef", "Cookie: [REDACTED]"},
		{"AWS access key id", "using AKIAIOSFODNN7EXAMPLE for s3", "using [REDACTED] for s3"},
		{"AWS secret key bare", "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY here", "secret [REDACTED] here"},
		{"hex digest kept", "commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
		{"Slack webhook", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://hooks.slack.com/services/[REDACTED]"},
		{"Slack bot token", "xoxb-1234567890-abcdefghij", "[REDACTED]"},
		{"Sentry DSN", "SENTRY_DSN=https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42", "SENTRY_DSN=https://[REDACTED]@o1.ingest.sentry.io/42"},
		{"legacy Sentry DSN", "https://pub:priv@sentry.example.com/3", "https://pub:[REDACTED]@sentry.example.com/3"},
		{"GitHub token", "GH=ghp_0123456789abcdefghij0123456789abcdef", "GH=[REDACTED]"},
		{"JWT", "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.sig_nature-x", "id [REDACTED]"},
		{"mysql -p in shell line", "mysql -h db -uroot -pS3cret warehouse < fix.sql", "mysql -h db -uroot -p[REDACTED] warehouse < fix.sql"},
		{"psql -p port kept", "psql -h db -p5432 policies", "psql -h db -p5432 policies"},
		{"JSON password", `{"user":"bob","password":"hunter2","n":1}`, `{"user":"bob","password":"[REDACTED]","n":1}`},
		{"YAML secret", "client_secret: abcd1234", "client_secret: [REDACTED]"},
		{"PEM private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAA\n-----END RSA PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----"},
		{"configured name", "x-tenant-code=T-99 rest", "x-tenant-code=[REDACTED] rest"},
		{"configured value", "echo s3cr3t-literal done", "echo [REDACTED] done"},
		{"no-password flag kept", "psql --no-password -h db", "psql --no-password -h db"},
		{"password file path kept", "--password-file=/run/secrets/db", "--password-file=/run/secrets/db"},
		{"author is not auth", "git log --author=alice", "git log --author=alice"},
		{"prose kept", "Error: connection refused by token service", "Error: connection refused by token service"},
		{"plain text kept", "updated 12 rows in 0.5s", "updated 12 rows in 0.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRedactArgsCorpus checks the rules that need argv structure: a flag
// whose value is the next argument, mysql's -p, curl's -u.
func TestRedactArgsCorpus(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"separate password value", []string{"app", "--password", "a b&c", "-v"}, []string{"app", "--password", Mask, "-v"}},
		{"equals value with spaces", []string{"app", "--password=a b&c"}, []string{"app", "--password=" + Mask}},
		{"token flag", []string{"gh", "--token", "ghx", "pr"}, []string{"gh", "--token", Mask, "pr"}},
		{"mysql attached -p", []string{"mysql", "-uroot", "-pS3cret", "db"}, []string{"mysql", "-uroot", "-p" + Mask, "db"}},
		{"mysql prompt -p", []string{"mysql", "-p", "db"}, []string{"mysql", "-p", "db"}},
		{"psql -p port", []string{"psql", "-p5432", "-p", "5432"}, []string{"psql", "-p5432", "-p", "5432"}},
		{"curl user:pass", []string{"curl", "-u", "bob:pw12", "https://x"}, []string{"curl", "-u", "bob:" + Mask, "https://x"}},
		{"sudo user kept", []string{"sudo", "-u", "postgres", "psql"}, []string{"sudo", "-u", "postgres", "psql"}},
		{"env assignment arg", []string{"env", "PGPASSWORD=p w", "psql"}, []string{"env", "PGPASSWORD=" + Mask, "psql"}},
		{"password-stdin is boolean", []string{"docker", "login", "--password-stdin", "registry"}, []string{"docker", "login", "--password-stdin", "registry"}},
		{"DSN argument", []string{"migrate", "-database", "postgres://u:p@h/db"}, []string{"migrate", "-database", "postgres://u:" + Mask + "@h/db"}},
		{"header argument", []string{"curl", "-H", "Authorization: Bearer tok123456"}, []string{"curl", "-H", "Authorization: Bearer " + Mask}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRedactor(nil, nil).Args(tt.in)
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Errorf("Args(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactEnv(t *testing.T) {
	tests := []struct {
		name, varName, value, want string
	}{
		{"secret name", "PGPASSWORD", "pa55", Mask},
		{"configured name", "TENANT_PIN_CODE", "1234", Mask},
		{"URL value", "DATABASE_URL", "postgres://u:pw@h/db", "postgres://u:" + Mask + "@h/db"},
		{"plain value", "PGHOST", "db.internal", "db.internal"},
		{"empty secret", "API_TOKEN", "", ""},
	}
	r := NewRedactor([]string{"TENANT_PIN_CODE"}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Env(tt.varName, tt.value); got != tt.want {
				t.Errorf("Env(%q, %q) = %q, want %q", tt.varName, tt.value, got, tt.want)
			}
		})
	}
}

func TestRedactBytesKeepsBinary(t *testing.T) {
	in := []byte("\xff\x00bin password=hunter2 \xfe\xfd")
	got := NewRedactor(nil, nil).Bytes(in)
	want := []byte("\xff\x00bin password=" + Mask + " \xfe\xfd")
	if string(got) != string(want) {
		t.Errorf("Bytes = %q, want %q", got, want)
	}
}

// TestRedactLibpqKeywordValue: libpq's keyword/value connection strings
// (PostgreSQL docs, 34.1.1.1 "Keyword/Value Connection Strings"): "Spaces
// around the equal sign are optional. To write an empty value, or a value
// containing spaces, surround it with single quotes ... Single quotes and
// backslashes within a value must be escaped with a backslash, i.e., \' and
// \\." libpq's parser (conninfo_parse) also honours a backslash escape in
// an unquoted value, so `pa\ ss` is the value "pa ss".
func TestRedactLibpqKeywordValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"spaces around =", "host=db password = hunter22 dbname=x", "host=db password = [REDACTED] dbname=x"},
		{"quoted with spaces", "host=db password='pa ss word' dbname=x", "host=db password='[REDACTED]' dbname=x"},
		{"quoted with escaped quote", `host=db password='it\'s a secret' dbname=x`, `host=db password='[REDACTED]' dbname=x`},
		{"quoted with escaped backslash", `password='a\\' dbname=x`, `password='[REDACTED]' dbname=x`},
		{"unquoted with escaped space", `host=db password=pa\ ss dbname=x`, `host=db password=[REDACTED] dbname=x`},
		{"spaces and quotes", `user=app  password =  'x y\'z'  sslmode=require`, `user=app  password =  '[REDACTED]'  sslmode=require`},
	}
	r := NewRedactor(nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRedactSecretLookingEnvNames: a recorded variable whose name contains
// PASS, TOKEN, SECRET, CRED or KEY (any case) is masked, as issue 12 asks:
// such names are secrets far more often than not.
func TestRedactSecretLookingEnvNames(t *testing.T) {
	r := NewRedactor(nil, nil)
	for _, name := range []string{"DB_PASS", "pass_phrase_2", "GH_TOKEN_RO", "app_secret_v2", "AWS_CREDS", "CREDENTIALS_JSON",
		"SIGNING_KEY", "KEY_MATERIAL", "ssh_key_path", "api_key_id"} {
		if got := r.Env(name, "value-1234"); got != Mask {
			t.Errorf("Env(%q) = %q, want it masked", name, got)
		}
	}
	for _, name := range []string{"PGHOST", "LANG", "MONITOR_PORT"} {
		if got := r.Env(name, "value-1234"); got != "value-1234" {
			t.Errorf("Env(%q) = %q, want it kept", name, got)
		}
	}
}
