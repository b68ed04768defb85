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
	"gopkg.in/yaml.v3"
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
	Users  []User
	Tokens []Token
	// SessionTTL is the lifetime of a dashboard login; default
	// DefaultSessionTTL.
	SessionTTL time.Duration
}

// Configured reports whether any user or token is configured (that is,
// whether vigil is not in local mode).
func (a Auth) Configured() bool { return len(a.Users) > 0 || len(a.Tokens) > 0 }

// User is one entry of auth.users: a person who logs in to the dashboard.
type User struct {
	Name string
	// PasswordHash is a bcrypt ($2a$, $2b$, $2y$) or argon2id
	// ($argon2id$v=19$m=..,t=..,p=..$salt$hash) hash, from password_hash or
	// password_hash_file. It is never shown on a page.
	PasswordHash string
	Role         string // RoleViewer, RoleOperator or RoleAdmin
	Line         int
}

// Token is one entry of auth.tokens: an API token sent as
// "Authorization: Bearer <token>".
type Token struct {
	Name string
	// SHA256 is the lowercase hex SHA-256 of the token: token_sha256 as
	// written, or the hash of token_file's trimmed content. The token itself
	// is not kept.
	SHA256 string
	Role   string
	Line   int
}

var (
	authNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)
	sha256Pattern   = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	argon2idPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
)

func (l *loader) auth(n *yaml.Node, line int) {
	f := l.fieldsOf(n, line, "auth", "in auth", "auth: ")
	a := Auth{SessionTTL: DefaultSessionTTL}
	a.Users = l.authUsers(f.value("users"))
	a.Tokens = l.authTokens(f.value("tokens"))
	f.duration("session_ttl", &a.SessionTTL)
	f.done()
	if a.SessionTTL <= 0 {
		f.problem("session_ttl", "session_ttl: must be positive, got %s", a.SessionTTL)
	}
	l.cfg.Auth = a
}

// authList returns the mapping items of the list n (reporting any other
// shape) for auth.<name>.
func (l *loader) authList(n *yaml.Node, name string) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.addf(n.Line, "auth: %s: expected a list, got %s", name, kindName(n))
		return nil
	}
	var out []*yaml.Node
	for i, item := range n.Content {
		if r := resolve(item); r == nil || r.Kind != yaml.MappingNode {
			l.addf(item.Line, "auth: %s[%d] must be a mapping, got %s", name, i, kindName(item))
			continue
		}
		out = append(out, resolve(item))
	}
	return out
}

// authName reads and validates the name of one user or token; where is
// "user" or "token".
func (l *loader) authName(f *fields, where string, firstLine map[string]int) string {
	var name string
	f.str("name", &name)
	switch {
	case !f.has("name"):
		f.problem("name", "missing name")
	case !authNamePattern.MatchString(name):
		f.problem("name", "invalid name %q (want letters, digits and . _ @ + -)", name)
	default:
		if first, dup := firstLine[name]; dup {
			f.problem("name", "duplicate %s name %q (first at line %d)", where, name, first)
		} else {
			firstLine[name] = f.line
		}
	}
	return name
}

// authRole reads and validates a role.
func (l *loader) authRole(f *fields) string {
	var role string
	f.str("role", &role)
	switch {
	case !f.has("role"):
		f.problem("role", "missing role (want viewer, operator or admin)")
	case role != RoleViewer && role != RoleOperator && role != RoleAdmin:
		f.problem("role", "role: unknown role %q (want viewer, operator or admin)", role)
	}
	return role
}

func (l *loader) authUsers(n *yaml.Node) []User {
	var users []User
	firstLine := map[string]int{}
	for i, item := range l.authList(n, "users") {
		where := fmt.Sprintf("auth.users[%d]", i)
		f := l.fieldsOf(item, item.Line, where, "in "+where, where+": ")
		u := User{Line: item.Line}
		u.Name = l.authName(f, "user", firstLine)
		f.secret("password_hash", &u.PasswordHash)
		u.Role = l.authRole(f)
		f.done()
		switch {
		case u.PasswordHash == "" && !f.has("password_hash_file"):
			f.problem("password_hash", "missing password_hash (bcrypt or argon2id)")
		case u.PasswordHash != "" && !validPasswordHash(u.PasswordHash):
			// Never echo the value: it may be a password pasted by mistake.
			key := "password_hash"
			if !f.has(key) {
				key = "password_hash_file"
			}
			f.problem(key, "%s is not a bcrypt or argon2id hash", key)
		}
		users = append(users, u)
	}
	return users
}

func (l *loader) authTokens(n *yaml.Node) []Token {
	var tokens []Token
	firstLine := map[string]int{}
	seenHash := map[string]string{}
	for i, item := range l.authList(n, "tokens") {
		where := fmt.Sprintf("auth.tokens[%d]", i)
		f := l.fieldsOf(item, item.Line, where, "in "+where, where+": ")
		t := Token{Line: item.Line}
		t.Name = l.authName(f, "token", firstLine)
		var hash, file string
		f.str("token_sha256", &hash)
		f.str("token_file", &file)
		t.Role = l.authRole(f)
		f.done()
		switch {
		case f.has("token_sha256") && f.has("token_file"):
			f.problem("token_file", "token_sha256 and token_file are both set")
		case f.has("token_sha256"):
			if !sha256Pattern.MatchString(hash) {
				f.problem("token_sha256", "token_sha256 must be 64 hex digits (the SHA-256 of the token)")
			}
			t.SHA256 = strings.ToLower(hash)
		case f.has("token_file"):
			tok, err := l.readSecret(file)
			switch {
			case err != nil:
				f.problem("token_file", "token_file: %v", err)
			case len(tok) < MinTokenLength || strings.ContainsFunc(tok, unicode.IsSpace):
				f.problem("token_file", "token_file: %q must hold one token of at least %d characters without spaces", file, MinTokenLength)
			default:
				sum := sha256.Sum256([]byte(tok))
				t.SHA256 = hex.EncodeToString(sum[:])
			}
		default:
			f.problem("name", "missing token_sha256 or token_file")
		}
		if t.SHA256 != "" {
			if other, dup := seenHash[t.SHA256]; dup {
				f.problem("name", "token %q is the same token as %q", t.Name, other)
			} else {
				seenHash[t.SHA256] = t.Name
			}
		}
		tokens = append(tokens, t)
	}
	return tokens
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
