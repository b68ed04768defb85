package config

import (
	"errors"
	"net/url"
	"strings"

	"github.com/getsentry/sentry-go"
	"github.com/go-sql-driver/mysql"
)

// SecretValues returns the secret values the configuration holds, for
// redaction wherever they might appear (script-log records, pages, logs):
// the DSNs of SQL datasources and of a PostgreSQL store, whole and their
// passwords; the Sentry DSN and its key; the Slack webhook URL. SQLite DSNs
// are file paths, not secrets. A nil Config holds none.
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
		for _, field := range strings.Fields(dsn) { // key=value form
			if v, ok := strings.CutPrefix(field, "password="); ok {
				return strings.Trim(v, "'")
			}
		}
	}
	return ""
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
