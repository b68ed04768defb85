package datasource

import (
	"regexp"
)

// credentials in URLs (scheme://user:pass@host), key=value DSNs
// (password=...) and go-sql-driver DSNs (user:pass@tcp(...)).
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@`),
	regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('[^']*'|\S+)`),
	regexp.MustCompile(`(\b[^\s:/@()]+:)[^\s@()]*(@tcp\()`),
}

// RedactString removes passwords from DSN-like text.
func RedactString(s string) string {
	s = secretPatterns[0].ReplaceAllString(s, "${1}xxxxx@")
	s = secretPatterns[1].ReplaceAllString(s, "${1}xxxxx")
	s = secretPatterns[2].ReplaceAllString(s, "${1}xxxxx${2}")
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
