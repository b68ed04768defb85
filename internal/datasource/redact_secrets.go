package datasource

import "regexp"

// tokenPatterns find secrets that are not DSN passwords: user info without
// a password (Sentry DSN keys, token@host), Slack webhook paths and tokens,
// bearer and basic Authorization values, and secret-named key=value or
// "key": "value" pairs.
var tokenPatterns = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://)[^\s:/@]+@`), "${1}xxxxx@"},
	{regexp.MustCompile(`(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s"'<>]+`), "${1}xxxxx"},
	{regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]+`), "xoxx-xxxxx"},
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`), "${1} xxxxx"},
	{regexp.MustCompile(`(?i)((?:["']?)\b[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|auth|dsn|webhook(?:[_-]?url)?)["']?\s*[:=]\s*["']?)[^\s"'&,;]+`), "${1}xxxxx"},
}

// RedactSecrets is RedactString plus the secrets that are not DSN
// passwords: user info without a password (a Sentry DSN's key), Slack
// webhook URLs and tokens, bearer and basic credentials, and values of
// secret-named keys (password=, token: ..., "api_key": "...", dsn=, ...).
// Text without such a secret is returned unchanged.
func RedactSecrets(s string) string {
	s = RedactString(s)
	for _, p := range tokenPatterns {
		s = p.re.ReplaceAllString(s, p.with)
	}
	return s
}
