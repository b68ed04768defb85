package datasource

import (
	"regexp"
	"strings"
)

// credentials in URLs (scheme://user:pass@host), key=value DSNs
// (password=...) and go-sql-driver DSNs (user:pass@tcp(...), user:pass@/db).
// A password may hold a raw '@': the last '@' before the address ends it.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s/]*@`),
	regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('[^']*'|\S+)`),
	regexp.MustCompile(`(\b[^\s:/@()]+:)[^\s()]*(@(?:[a-z0-9]+\(|/))`),
}

// RedactString replaces the passwords in DSN-like text with "xxxxx": URL
// user info, password=... pairs and go-sql-driver user:pass@ prefixes.
// Text without such a secret is returned unchanged.
func RedactString(s string) string {
	s = secretPatterns[0].ReplaceAllString(s, "${1}xxxxx@")
	s = secretPatterns[1].ReplaceAllString(s, "${1}xxxxx")
	s = secretPatterns[2].ReplaceAllStringFunc(s, func(m string) string {
		if strings.Contains(m, "://") {
			return m // a URL, handled above
		}
		return secretPatterns[2].ReplaceAllString(m, "${1}xxxxx${2}")
	})
	return s
}

// Redact returns err with any DSN password in its text replaced; it still
// unwraps to the original error.
func Redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactString(msg); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
