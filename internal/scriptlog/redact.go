package scriptlog

import (
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Mask replaces every secret the Redactor finds.
const Mask = "[REDACTED]"

// minValueLen is the shortest literal secret value a Redactor masks; shorter
// values would mask ordinary text.
const minValueLen = 4

// Redactor masks secrets in command lines, environment values and output
// before they are stored. The zero value and a nil *Redactor use the
// built-in rules only. A Redactor is safe for concurrent use.
//
// Built-in rules: values of secret-named flags, variables, query parameters
// and keys (password, passwd, pwd, passphrase, secret, token, api_key,
// access_key, private_key, credential, signature, cookie, auth, sig, key and
// names ending in key or auth, minus names ending in file, path, stdin, dir
// or type and --no-… flags); mysql-style -pSECRET; passwords in URL user info
// and go-sql-driver DSNs; token-like URL user info (and any user info on a
// Sentry host); Authorization headers and bearer tokens; Slack webhook URLs
// and tokens; AWS access key ids and 40-character secret keys; GitHub,
// Stripe and Google API tokens; JWTs; PEM private key blocks.
type Redactor struct {
	names  map[string]bool // extra secret names, normalized
	values []string        // literal secrets, longest first
}

// NewRedactor returns a Redactor that also treats names (flag, variable,
// parameter or key names, matched ignoring case, '-', '_' and '.') as secret
// and masks every occurrence of each of values (values shorter than 4 bytes
// are ignored).
func NewRedactor(names, values []string) *Redactor {
	r := &Redactor{names: map[string]bool{}}
	for _, n := range names {
		if n = normalizeName(n); n != "" {
			r.names[n] = true
		}
	}
	return r.WithValues(values...)
}

// WithValues returns a copy of r that also masks each of values.
func (r *Redactor) WithValues(values ...string) *Redactor {
	out := &Redactor{names: map[string]bool{}}
	if r != nil {
		out.names = r.names
		out.values = append(out.values, r.values...)
	}
	for _, v := range values {
		if len(v) >= minValueLen && v != Mask {
			out.values = append(out.values, v)
		}
	}
	sort.Slice(out.values, func(i, j int) bool { return len(out.values[i]) > len(out.values[j]) })
	return out
}

// SecretName reports whether a flag, variable, parameter or key name
// names a secret.
func (r *Redactor) SecretName(name string) bool {
	trimmed := strings.TrimLeft(name, "-")
	lower := strings.ToLower(trimmed)
	if strings.HasPrefix(lower, "no-") || strings.HasPrefix(lower, "no_") {
		return false
	}
	n := normalizeName(trimmed)
	if n == "" {
		return false
	}
	if r != nil && r.names[n] {
		return true
	}
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	if secretExact[n] {
		return true
	}
	for _, s := range secretParts {
		if strings.Contains(n, s) {
			return true
		}
	}
	if strings.Contains(n, "pwd") && n != "pwd" && n != "oldpwd" {
		return true
	}
	if strings.HasSuffix(n, "auth") {
		return true
	}
	if strings.HasSuffix(n, "key") && !notSecretKeys[n] {
		return true
	}
	return false
}

func normalizeName(n string) string {
	n = strings.ToLower(strings.TrimLeft(n, "-"))
	return strings.NewReplacer("-", "", "_", "", ".", "").Replace(n)
}

var (
	secretExact = map[string]bool{
		"pass": true, "pw": true, "auth": true, "authorization": true, "sig": true,
		"otp": true, "pin": true,
	}
	secretParts = []string{
		"password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey",
		"privatekey", "credential", "signature", "cookie", "sessionid",
	}
	notSecretSuffixes = []string{"file", "path", "stdin", "dir", "type"}
	notSecretKeys     = map[string]bool{
		"publickey": true, "primarykey": true, "partitionkey": true, "sortkey": true,
		"foreignkey": true, "hashkey": true, "rangekey": true, "monkey": true, "turkey": true,
		"hotkey": true, "groupkey": true, "idempotencykey": true,
	}
	mysqlPrograms = map[string]bool{
		"mysql": true, "mysqldump": true, "mysqladmin": true, "mysqlimport": true,
		"mysqlcheck": true, "mysqlshow": true, "mysqlpump": true, "mysqlsh": true,
		"mariadb": true, "mariadb-dump": true, "mariadb-admin": true, "mariadb-import": true,
		"mariadb-check": true, "mariadb-show": true,
	}
	userFlags = map[string]bool{"-u": true, "--user": true, "-U": true, "--proxy-user": true}
)

// Args returns args (a whole argv, command first) with secrets masked.
func (r *Redactor) Args(args []string) []string {
	out, _ := r.args(args)
	return out
}

// args masks args and also returns the secret values it removed, so that
// Exec can mask them in the output too.
func (r *Redactor) args(args []string) (out, secrets []string) {
	out = make([]string, len(args))
	mysqlLike := len(args) > 0 && mysqlPrograms[filepath.Base(args[0])]
	maskNext, userNext := false, false
	for i, a := range args {
		switch {
		case maskNext:
			maskNext = false
			out[i], secrets = Mask, append(secrets, a)
			continue
		case userNext:
			userNext = false
			if user, pass, ok := strings.Cut(a, ":"); ok && pass != "" {
				out[i], secrets = user+":"+Mask, append(secrets, pass)
				continue
			}
		}
		if i > 0 && strings.HasPrefix(a, "-") && len(a) > 1 {
			body := strings.TrimLeft(a, "-")
			dashes := a[:len(a)-len(body)]
			if name, value, ok := strings.Cut(body, "="); ok {
				if r.SecretName(name) && value != "" && value != Mask {
					out[i], secrets = dashes+name+"="+Mask, append(secrets, value)
					continue
				}
			} else if mysqlLike && dashes == "-" && strings.HasPrefix(body, "p") && len(body) > 1 {
				out[i], secrets = "-p"+Mask, append(secrets, body[1:])
				continue
			} else if userFlags[a] {
				userNext = true
			} else if r.SecretName(body) && len(body) > 1 {
				maskNext = true
			}
			out[i] = r.String(a)
			continue
		}
		if name, value, ok := strings.Cut(a, "="); ok && envName.MatchString(name) && r.SecretName(name) && value != "" {
			out[i], secrets = name+"="+Mask, append(secrets, value)
			continue
		}
		out[i] = r.String(a)
	}
	return out, secrets
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Env returns the value to record for the environment variable name: all
// masked when the name is secret (SecretEnvName), else the value with
// secrets masked.
func (r *Redactor) Env(name, value string) string {
	if r.SecretEnvName(name) && value != "" {
		return Mask
	}
	return r.String(value)
}

// SecretEnvName reports whether the value of the environment variable name
// is to be recorded masked: when SecretName says so, or when the name
// contains PASS, TOKEN, SECRET, CRED or KEY in any case (names such as
// DB_PASS, AWS_CREDS or SIGNING_KEY_ID are secrets far more often than not,
// and a masked value that was not secret costs little).
func (r *Redactor) SecretEnvName(name string) bool {
	upper := strings.ToUpper(name)
	for _, part := range []string{"PASS", "TOKEN", "SECRET", "CRED", "KEY"} {
		if strings.Contains(upper, part) {
			return true
		}
	}
	return r.SecretName(name)
}

// Bytes returns b with secrets masked; bytes outside a secret, valid UTF-8
// or not, are kept as they are.
func (r *Redactor) Bytes(b []byte) []byte {
	return []byte(r.String(string(b)))
}

// String returns s with secrets masked.
func (r *Redactor) String(s string) string {
	if r != nil {
		for _, v := range r.values {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	s = pemBlock.ReplaceAllString(s, "${1}"+Mask+"${2}")
	s = urlUserinfo.ReplaceAllStringFunc(s, redactUserinfo)
	s = goSQLDSN.ReplaceAllString(s, "${1}:"+Mask+"@${2}(")
	s = slackWebhook.ReplaceAllString(s, "${1}"+Mask)
	for _, re := range tokenFormats {
		s = re.ReplaceAllString(s, Mask)
	}
	s = authHeader.ReplaceAllString(s, "${1}"+Mask)
	s = bearer.ReplaceAllString(s, "${1}"+Mask)
	s = mysqlPassword.ReplaceAllString(s, "${1}"+Mask)
	s = r.redactKeyValues(s)
	s = base64Run.ReplaceAllStringFunc(s, redactAWSSecret)
	return s
}

var (
	pemBlock = regexp.MustCompile(`(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)`)
	// scheme://userinfo@host; userinfo may itself hold an unescaped '@'.
	urlUserinfo  = regexp.MustCompile(`\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#'"<>]*)@([^\s/?#:'"<>@]*)`)
	goSQLDSN     = regexp.MustCompile(`([^\s:/@()'"=]+):[^\s@()'"]*@(tcp|unix)\(`)
	slackWebhook = regexp.MustCompile(`(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+`)
	tokenFormats = []*regexp.Regexp{
		regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b`), // AWS access key ids
		regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{10,}`),                            // Slack tokens
		regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,}`),                                // GitHub tokens
		regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{30,}`),
		regexp.MustCompile(`\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}`),                       // Stripe keys
		regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`),                                      // Google API keys
		regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`), // JWTs
	}
	authHeader = regexp.MustCompile(`(?i)(\b(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate)\s+)?)[^\s'"][^\r\n'"]*`)
	bearer     = regexp.MustCompile(`(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*`)
	// mysql-family client with an attached -pPASSWORD, inside a shell line.
	mysqlPassword = regexp.MustCompile(`(\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|mysqlsh|mariadb(?:-[a-z]+)?)\b[^\n;|&]*?\s-p)[^\s'";|&]+`)
	// the name and separator of name=value, name: value, "name": "value",
	// --name=value, ?name=value&...; the value is parsed by hand so that a
	// match never swallows the next pair.
	keyName   = regexp.MustCompile(`["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?(\s*[=:]\s*)`)
	base64Run = regexp.MustCompile(`[A-Za-z0-9/+=]{40,}`)
)

// redactUserinfo masks the password of scheme://user:password@host, and the
// whole user info when it looks like a token or the host is Sentry's.
func redactUserinfo(m string) string {
	sub := urlUserinfo.FindStringSubmatch(m)
	scheme, info, host := sub[1], sub[2], sub[3]
	switch {
	case info == "" || info == Mask:
		return m
	case strings.Contains(info, ":"):
		user, _, _ := strings.Cut(info, ":")
		return scheme + user + ":" + Mask + "@" + host
	case strings.Contains(strings.ToLower(host), "sentry") || tokenLike.MatchString(info):
		return scheme + Mask + "@" + host
	}
	return m
}

var tokenLike = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)

// redactKeyValues masks the value of every pair whose name is secret.
func (r *Redactor) redactKeyValues(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range keyName.FindAllStringSubmatchIndex(s, -1) {
		if m[0] < last {
			continue
		}
		name, sep := s[m[2]:m[3]], s[m[4]:m[5]]
		if !r.SecretName(name) {
			continue
		}
		// "name : value" (space before the colon) is prose, not a pair.
		if strings.Contains(sep, ":") && !strings.HasPrefix(sep, ":") {
			continue
		}
		start, end, quoted := valueAt(s, m[1])
		value := s[start:end]
		switch {
		case value == "" || value == Mask:
			continue
		case !quoted && strings.HasPrefix(value, "//"):
			continue // scheme://…, the URL rule's business
		case !quoted && authSchemes[strings.ToLower(value)]:
			continue // Authorization: Bearer …, the header rule's business
		}
		b.WriteString(s[last:start])
		b.WriteString(Mask)
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

var authSchemes = map[string]bool{"bearer": true, "basic": true, "token": true, "digest": true, "negotiate": true}

// valueAt returns the bounds of the value that starts at i: the inside of
// a quoted string, or a run up to a space, '&', ';' or quote. A backslash
// escapes the next byte in both, as in libpq's keyword/value connection
// strings (`password='it\'s'`, `password=pa\ ss`) and in JSON strings.
func valueAt(s string, i int) (start, end int, quoted bool) {
	if i < len(s) && (s[i] == '"' || s[i] == '\'') {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case s[i]:
				return i + 1, j, true
			}
		}
	}
	end = i
	for end < len(s) && !strings.ContainsRune(" \t\r\n&;'\"", rune(s[end])) {
		if s[end] == '\\' && end+1 < len(s) {
			end++
		}
		end++
	}
	return i, end, false
}

// redactAWSSecret masks a run of exactly 40 base64 characters with upper
// and lower case letters, the shape of an AWS secret access key (hex digests
// have a single case and are kept).
func redactAWSSecret(m string) string {
	if len(m) != 40 || strings.Contains(m, "=") {
		return m
	}
	if strings.ToLower(m) == m || strings.ToUpper(m) == m {
		return m
	}
	if !strings.ContainsAny(m, "0123456789/+") {
		return m
	}
	return Mask
}
