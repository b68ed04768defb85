package sentry

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/getsentry/sentry-go"

	"github.com/vigilhq/vigil/internal/datasource"
)

// NewClient returns the Sentry client vigil sends through, made with
// ClientOptions. Its error never contains the DSN's keys (RedactDSN).
func NewClient(dsn, environment string, transport sentry.Transport) (*sentry.Client, error) {
	c, err := sentry.NewClient(ClientOptions(dsn, environment, transport))
	if err != nil {
		return nil, fmt.Errorf("sentry: client for %s: %w", RedactDSN(dsn), redactDSNError(err, dsn))
	}
	return c, nil
}

// RedactDSN returns dsn with its public (and legacy secret) key hidden,
// "https://xxxxx@o1.ingest.sentry.io/42", as Alertmanager's RedactURL hides
// a URL's password: the key lets anyone send events to the project. A DSN
// that is not a URL has every URL credential in it hidden.
func RedactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil && u.Host != "" {
		u.User = url.User("xxxxx")
		return u.String()
	}
	return datasource.RedactSecrets(strings.ReplaceAll(dsn, dsnUserinfo(dsn), "xxxxx"))
}

// dsnUserinfo is the text before the '@' of dsn's authority ("" without one).
func dsnUserinfo(dsn string) string {
	rest := dsn
	if _, after, ok := strings.Cut(dsn, "://"); ok {
		rest = after
	}
	if userinfo, _, ok := strings.Cut(rest, "@"); ok && userinfo != "" {
		return userinfo
	}
	return "\x00" // matches nothing
}

// redactDSNError returns err with dsn and its keys hidden in its text; it
// still unwraps to err.
func redactDSNError(err error, dsn string) error {
	msg := err.Error()
	red := strings.ReplaceAll(msg, dsn, RedactDSN(dsn))
	red = datasource.RedactSecrets(strings.ReplaceAll(red, dsnUserinfo(dsn), "xxxxx"))
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
