package config

import (
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"unicode"

	"github.com/getsentry/sentry-go"
	"github.com/go-sql-driver/mysql"

	"github.com/vigilhq/vigil/checks"
)

// SecretValues returns the secret values the configuration holds, for
// redaction wherever they might appear (script-log records, pages, logs):
// the DSNs of SQL datasources and of a PostgreSQL store, whole and their
// passwords; the Sentry DSN and its key; the Slack webhook URL; what each
// check's spec reports through checks.SpecSecrets (an http check's
// credentials); the script log's key. SQLite DSNs are file paths, not
// secrets. A nil Config holds none.
func (c *Config) SecretValues() []string {
	if c == nil {
		return nil
	}
	var out []string
	dsn := func(driver, v string) {
		if v == "" || driver == DriverSQLite {
			return
		}
		out = append(out, v)
		if p := dsnPassword(driver, v); p != "" {
			out = append(out, p)
		}
	}
	if c.Store.Driver == DriverPostgres {
		dsn(c.Store.Driver, c.Store.DSN)
	}
	for _, ds := range c.Datasources {
		if ds.IsSQL() {
			dsn(ds.Driver, ds.DSN)
		}
	}
	if v := c.Sinks.Sentry.DSN; v != "" {
		out = append(out, v)
		if u, err := url.Parse(v); err == nil && u.User != nil {
			out = append(out, u.User.Username()) // the Sentry key
			if secret, ok := u.User.Password(); ok && secret != "" {
				out = append(out, secret) // a legacy secret key
			}
		}
	}
	if v := c.Sinks.Slack.WebhookURL; v != "" {
		out = append(out, v)
	}
	for _, ch := range c.Checks {
		if s, ok := ch.Spec.(checks.SpecSecrets); ok {
			out = append(out, s.Secrets()...)
		}
	}
	if k := c.Scriptlog.keyBytes; len(k) > 0 {
		out = append(out, string(k), hex.EncodeToString(k))
	}
	return out
}

// dsnPassword returns the password in a DSN of driver, or "".
func dsnPassword(driver, dsn string) string {
	switch driver {
	case DriverMySQL:
		if c, err := mysql.ParseDSN(dsn); err == nil {
			return c.Passwd
		}
	case DriverPostgres:
		if strings.Contains(dsn, "://") {
			if u, err := url.Parse(dsn); err == nil && u.User != nil {
				p, _ := u.User.Password()
				return p
			}
			return ""
		}
		return libpqKeywordValues(dsn)["password"]
	}
	return ""
}

// libpqKeywordValues parses a libpq keyword/value connection string as
// libpq's conninfo_parse does: keywords and values separated by '=' with
// optional spaces around it; a value is single-quoted (where \' and \\ are
// escapes) or runs to the next space (where a backslash escapes the next
// character). It reads what it can of a malformed string.
func libpqKeywordValues(s string) map[string]string {
	out := map[string]string{}
	i := 0
	skipSpace := func() {
		for i < len(s) && unicode.IsSpace(rune(s[i])) {
			i++
		}
	}
	for {
		skipSpace()
		start := i
		for i < len(s) && s[i] != '=' && !unicode.IsSpace(rune(s[i])) {
			i++
		}
		key := s[start:i]
		skipSpace()
		if key == "" || i >= len(s) || s[i] != '=' {
			return out
		}
		i++
		skipSpace()
		var v strings.Builder
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
		}
		for i < len(s) {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				v.WriteByte(s[i+1])
				i += 2
				continue
			}
			if (quoted && c == '\'') || (!quoted && unicode.IsSpace(rune(c))) {
				i++
				break
			}
			v.WriteByte(c)
			i++
		}
		out[key] = v.String()
	}
}

// sentryDSNProblem says why sentry-go cannot parse dsn, "" when it can.
// The text never quotes the DSN's keys: a detail of the URL parser that
// contains the user info is left out.
func sentryDSNProblem(dsn string) string {
	_, err := sentry.NewDsn(dsn)
	if err == nil {
		return ""
	}
	var pe *sentry.DsnParseError
	if !errors.As(err, &pe) {
		return "not a Sentry DSN"
	}
	switch pe.Message {
	case "invalid scheme":
		return "scheme must be http or https"
	case "empty username":
		return "no public key"
	case "empty host":
		return "no host"
	case "empty project id":
		return "no project id"
	case "invalid port":
		return "invalid port"
	}
	msg := "not a URL"
	var ue *url.Error
	if _, perr := url.Parse(dsn); errors.As(perr, &ue) {
		detail, rest := ue.Err.Error(), dsn
		if _, after, ok := strings.Cut(dsn, "://"); ok {
			rest = after
		}
		userinfo, _, _ := strings.Cut(rest, "@")
		leaks := false
		for _, part := range strings.FieldsFunc(userinfo, func(r rune) bool { return r == ':' || r == '/' }) {
			leaks = leaks || (len(part) >= 4 && strings.Contains(detail, part))
		}
		if !leaks {
			msg += ": " + detail
		}
	}
	return msg
}
