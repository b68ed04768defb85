package datasource_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/vigilhq/vigil/internal/datasource"
)

func TestRedactString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "postgres url", in: "postgres://vigil:hunter2@db:5432/p", want: "postgres://vigil:xxxxx@db:5432/p"},
		{name: "url with raw @ in password", in: "postgres://vigil:p@ss@db/p", want: "postgres://vigil:xxxxx@db/p"},
		{name: "url in a sentence", in: `dial "postgresql://u:pw@h/d": refused`, want: `dial "postgresql://u:xxxxx@h/d": refused`},
		{name: "url without password", in: "postgres://vigil@db/p", want: "postgres://vigil@db/p"},
		{name: "https webhook with credentials", in: "https://user:tok@hooks.example.com/x", want: "https://user:xxxxx@hooks.example.com/x"},
		{name: "key=value", in: "host=db user=vigil password=hunter2 dbname=p", want: "host=db user=vigil password=xxxxx dbname=p"},
		{name: "key=value quoted", in: "host=db password='hunter 2' dbname=p", want: "host=db password=xxxxx dbname=p"},
		{name: "key = value spaced", in: "PASSWORD = hunter2", want: "PASSWORD = xxxxx"},
		{name: "url query password", in: "postgres://db/p?password=hunter2", want: "postgres://db/p?password=xxxxx"},
		{name: "mysql tcp", in: "vigil:hunter2@tcp(db:3306)/dw?parseTime=true", want: "vigil:xxxxx@tcp(db:3306)/dw?parseTime=true"},
		{name: "mysql raw @ in password", in: "vigil:p@ss@tcp(db:3306)/dw", want: "vigil:xxxxx@tcp(db:3306)/dw"},
		{name: "mysql unix socket", in: "vigil:hunter2@unix(/run/mysqld.sock)/dw", want: "vigil:xxxxx@unix(/run/mysqld.sock)/dw"},
		{name: "mysql default address", in: "vigil:hunter2@/dw", want: "vigil:xxxxx@/dw"},
		{name: "mysql without password", in: "vigil@tcp(db:3306)/dw", want: "vigil@tcp(db:3306)/dw"},
		{name: "two secrets", in: "a://u:one@h b://v:two@i", want: "a://u:xxxxx@h b://v:xxxxx@i"},
		{name: "nothing secret", in: "dial tcp 127.0.0.1:5432: connect: connection refused", want: "dial tcp 127.0.0.1:5432: connect: connection refused"},
		{name: "sqlite path", in: "file:/var/lib/vigil/dw.db?mode=ro", want: "file:/var/lib/vigil/dw.db?mode=ro"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := datasource.RedactString(tt.in); got != tt.want {
				t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	if datasource.Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
	plain := fmt.Errorf("read: %w", io.EOF)
	if got := datasource.Redact(plain); got != plain {
		t.Errorf("Redact of an error with no secret = %v, want the same error", got)
	}
	secret := fmt.Errorf("connect postgres://u:hunter2@db/p: %w", io.ErrUnexpectedEOF)
	got := datasource.Redact(secret)
	if want := "connect postgres://u:xxxxx@db/p: unexpected EOF"; got.Error() != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if !errors.Is(got, io.ErrUnexpectedEOF) {
		t.Error("redacted error no longer unwraps to its cause")
	}
}
