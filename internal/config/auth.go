package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// DefaultSessionTTL is how long a dashboard login lasts unless
// auth.session_ttl says otherwise.
const DefaultSessionTTL = 12 * time.Hour

// Roles, from least to most privileged.
const (
	RoleViewer   = "viewer"   // read only
	RoleOperator = "operator" // run, ack, silence, redrive, log scripts
	RoleAdmin    = "admin"
)

// MinTokenLength is the shortest API token accepted from a token_file.
const MinTokenLength = 32

// Auth is the `auth` section. With no users and no tokens vigil is in local
// mode: the dashboard acts as one local admin and may only listen on a
// loopback address.
type Auth struct {
	Users  []User  `yaml:"users"`
	Tokens []Token `yaml:"tokens"`
	// SessionTTL is the lifetime of a dashboard login; default
	// DefaultSessionTTL.
	SessionTTL time.Duration `yaml:"session_ttl"`
}

// Configured reports whether any user or token is configured (that is,
// whether vigil is not in local mode).
func (a Auth) Configured() bool { return len(a.Users) > 0 || len(a.Tokens) > 0 }

// User is one entry of auth.users: a person who logs in to the dashboard.
type User struct {
	Name string `yaml:"name" jsonschema:"required"`
	// PasswordHash is a bcrypt ($2a$, $2b$, $2y$) or argon2id
	// ($argon2id$v=19$m=..,t=..,p=..$salt$hash) hash, from password_hash or
	// password_hash_file. It is never shown on a page.
	PasswordHash     string `yaml:"password_hash"`
	PasswordHashFile string `yaml:"password_hash_file"`
	Role             string `yaml:"role" jsonschema:"required,enum=viewer,enum=operator,enum=admin"` // RoleViewer, RoleOperator or RoleAdmin
	Line             int    `yaml:"-"`
}

// Token is one entry of auth.tokens: an API token sent as
// "Authorization: Bearer <token>".
type Token struct {
	Name string `yaml:"name" jsonschema:"required"`
	// SHA256 is the lowercase hex SHA-256 of the token: token_sha256 as
	// written, or the hash of token_file's trimmed content. The token itself
	// is not kept.
	SHA256 string `yaml:"token_sha256" jsonschema:"pattern=^[0-9a-fA-F]{64}$"`
	// File is token_file as written: a file holding the token itself.
	File string `yaml:"token_file"`
	Role string `yaml:"role" jsonschema:"required,enum=viewer,enum=operator,enum=admin"`
	Line int    `yaml:"-"`
}

var (
	authNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)
	sha256Pattern   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	argon2idPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
)

func (l *loader) auth(top *decoded) {
	a := &l.cfg.Auth
	if a.SessionTTL <= 0 {
		top.problem("auth.session_ttl", "session_ttl: must be positive, got %s", a.SessionTTL)
	}
	names := map[string]int{}
	for i := range a.Users {
		u := &a.Users[i]
		base := fmt.Sprintf("auth.users[%d]", i)
		u.Line = top.lineOf(base)
		authName(top, base, "user", u.Name, names)
		top.secret(base+".password_hash", &u.PasswordHash, u.PasswordHashFile)
		authRole(top, base, u.Role)
		switch {
		case u.PasswordHash == "" && !top.has(base+".password_hash_file"):
			top.problem(base+".password_hash", "missing password_hash (bcrypt or argon2id)")
		case u.PasswordHash != "" && !validPasswordHash(u.PasswordHash):
			// Never echo the value: it may be a password pasted by mistake.
			key := "password_hash"
			if !top.has(base + "." + key) {
				key = "password_hash_file"
			}
			top.problem(base+"."+key, "%s is not a bcrypt or argon2id hash", key)
		}
	}
	names = map[string]int{}
	seenHash := map[string]string{}
	for i := range a.Tokens {
		t := &a.Tokens[i]
		base := fmt.Sprintf("auth.tokens[%d]", i)
		t.Line = top.lineOf(base)
		authName(top, base, "token", t.Name, names)
		authRole(top, base, t.Role)
		switch {
		case top.has(base+".token_sha256") && top.has(base+".token_file"):
			top.problem(base+".token_file", "token_sha256 and token_file are both set")
			t.SHA256 = ""
		case top.has(base + ".token_sha256"):
			if !sha256Pattern.MatchString(t.SHA256) {
				top.problem(base+".token_sha256", "token_sha256 must be 64 hex digits (the SHA-256 of the token)")
				t.SHA256 = ""
			}
			t.SHA256 = strings.ToLower(t.SHA256)
		case top.has(base + ".token_file"):
			tok, err := l.readSecret(t.File)
			switch {
			case err != nil:
				top.problem(base+".token_file", "token_file: %v", err)
			case len(tok) < MinTokenLength || strings.ContainsFunc(tok, unicode.IsSpace):
				top.problem(base+".token_file", "token_file: %q must hold one token of at least %d characters without spaces", t.File, MinTokenLength)
			default:
				sum := sha256.Sum256([]byte(tok))
				t.SHA256 = hex.EncodeToString(sum[:])
			}
		default:
			top.problem(base+".name", "missing token_sha256 or token_file")
		}
		if t.SHA256 != "" {
			if other, dup := seenHash[t.SHA256]; dup {
				top.problem(base+".name", "token %q is the same token as %q", t.Name, other)
			} else {
				seenHash[t.SHA256] = t.Name
			}
		}
	}
}

// ValidAuthName reports whether name may name a user or an API token:
// letters, digits and . _ @ + -, starting with a letter or digit.
func ValidAuthName(name string) bool { return authNamePattern.MatchString(name) }

// authName validates the name of the user or token at base; what is
// "user" or "token", firstLine the lines of the names seen so far.
func authName(top *decoded, base, what, name string, firstLine map[string]int) {
	switch {
	case !top.has(base + ".name"):
		top.problem(base+".name", "missing name")
	case !authNamePattern.MatchString(name):
		top.problem(base+".name", "invalid name %q (want letters, digits and . _ @ + -)", name)
	default:
		if first, dup := firstLine[name]; dup {
			top.problem(base+".name", "duplicate %s name %q (first at line %d)", what, name, first)
		} else {
			firstLine[name] = top.lineOf(base)
		}
	}
}

// authRole validates the role of the user or token at base.
func authRole(top *decoded, base, role string) {
	switch {
	case !top.has(base + ".role"):
		top.problem(base+".role", "missing role (want viewer, operator or admin)")
	case role != RoleViewer && role != RoleOperator && role != RoleAdmin:
		top.problem(base+".role", "role: unknown role %q (want viewer, operator or admin)", role)
	}
}

// validPasswordHash reports whether h looks like a bcrypt or argon2id hash
// that vigil can verify.
func validPasswordHash(h string) bool {
	if strings.HasPrefix(h, "$argon2id$") {
		return argon2idPattern.MatchString(h)
	}
	_, err := bcrypt.Cost([]byte(h))
	return err == nil
}
