package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is one dashboard login. The cookie carries a random token; only
// its SHA-256 (IDHash, lowercase hex) is stored, so the table alone cannot
// be replayed as a login.
type Session struct {
	IDHash    string
	User      string
	CreatedAt time.Time // UTC when read back
	ExpiresAt time.Time
	Remote    string // the address the login came from
	UserAgent string
	// Credential fingerprints the user's password hash and role at login
	// (the web package compares it on every request).
	Credential string
}

// CreateSession stores a new session. IDHash, User and ExpiresAt are
// required (ErrInvalid); a zero CreatedAt is the store's clock. It returns
// ErrConflict when a session with the same IDHash exists.
func (s *Store) CreateSession(ctx context.Context, sess Session) error {
	if sess.IDHash == "" || sess.User == "" || sess.ExpiresAt.IsZero() {
		return fmt.Errorf("store: create session: %w: id hash, user and expiry are required", ErrInvalid)
	}
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = s.now()
	}
	created, err := timeValue(sess.CreatedAt)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	expires, err := timeValue(sess.ExpiresAt)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	res, err := s.write.ExecContext(ctx, s.d.rebind(`INSERT INTO sessions (id_sha256, user_name, created_at, expires_at, remote, user_agent, credential)
VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		cleanText(sess.IDHash), cleanText(sess.User), created, expires, cleanText(sess.Remote), cleanText(sess.UserAgent), cleanText(sess.Credential))
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	} else if n == 0 {
		return fmt.Errorf("store: create session: %w", ErrConflict)
	}
	return nil
}

// Session returns the session whose token hashes to idHash. It returns
// ErrNotFound when there is none or when it has expired at now (ExpiresAt
// at or before now).
func (s *Store) Session(ctx context.Context, idHash string, now time.Time) (Session, error) {
	at, err := timeValue(now)
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	var sess Session
	var created, expires sql.NullInt64
	err = s.read.QueryRowContext(ctx, s.d.rebind(`SELECT id_sha256, user_name, created_at, expires_at, remote, user_agent, credential
FROM sessions WHERE id_sha256 = ? AND expires_at > ?`), idHash, at).
		Scan(&sess.IDHash, &sess.User, &created, &expires, &sess.Remote, &sess.UserAgent, &sess.Credential)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	sess.CreatedAt, sess.ExpiresAt = timeFrom(created), timeFrom(expires)
	return sess, nil
}

// DeleteSession removes the session whose token hashes to idHash (a
// logout). Deleting a session that does not exist is not an error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM sessions WHERE id_sha256 = ?"), idHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of user (logging them out
// everywhere) and returns how many there were.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int64, error) {
	res, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM sessions WHERE user_name = ?"), user)
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions of %s: %w", user, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions of %s: %w", user, err)
	}
	return n, nil
}

// DeleteExpiredSessions removes the sessions expired at now and returns how
// many there were.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	at, err := timeValue(now)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	res, err := s.write.ExecContext(ctx, s.d.rebind("DELETE FROM sessions WHERE expires_at <= ?"), at)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired sessions: %w", err)
	}
	return n, nil
}

// APIToken is an API token created at run time (tokens from the config
// file are not stored). Only the token's SHA-256 (SHA256, lowercase hex)
// is kept.
type APIToken struct {
	ID        int64
	Name      string
	SHA256    string
	Role      string // viewer, operator or admin
	CreatedBy string
	CreatedAt time.Time // UTC when read back
	RevokedAt time.Time // zero while the token is valid
}

const apiTokenColumns = "id, name, token_sha256, role, created_by, created_at, revoked_at"

// CreateAPIToken stores a new token and returns its id. Name, SHA256 and
// Role are required (ErrInvalid); a zero CreatedAt is the store's clock.
// It returns ErrConflict when a valid token has the same name, or any
// token the same hash.
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken) (int64, error) {
	if t.Name == "" || t.SHA256 == "" || t.Role == "" {
		return 0, fmt.Errorf("store: create api token: %w: name, hash and role are required", ErrInvalid)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	created, err := timeValue(t.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("store: create api token %s: %w", t.Name, err)
	}
	var id int64
	err = s.write.QueryRowContext(ctx, s.d.rebind(`INSERT INTO api_tokens (name, token_sha256, role, created_by, created_at)
VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`),
		cleanText(t.Name), cleanText(t.SHA256), cleanText(t.Role), cleanText(t.CreatedBy), created).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: create api token %s: %w", t.Name, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store: create api token %s: %w", t.Name, err)
	}
	return id, nil
}

// APITokenBySHA256 returns the valid (not revoked) token whose hash is
// sha, or ErrNotFound.
func (s *Store) APITokenBySHA256(ctx context.Context, sha string) (APIToken, error) {
	row := s.read.QueryRowContext(ctx, s.d.rebind("SELECT "+apiTokenColumns+" FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL"), sha)
	t, err := scanAPIToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("store: api token: %w", ErrNotFound)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("store: api token: %w", err)
	}
	return t, nil
}

// APITokens returns every token, revoked ones included, oldest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.read.QueryContext(ctx, "SELECT "+apiTokenColumns+" FROM api_tokens ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: api tokens: %w", err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: api tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken marks token id revoked at at; it stops authenticating at
// once. It returns ErrNotFound when no valid token has that id.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64, at time.Time) error {
	v, err := timeValue(at)
	if err != nil || !v.Valid {
		return fmt.Errorf("store: revoke api token %d: %w: time %v", id, ErrInvalid, at)
	}
	res, err := s.write.ExecContext(ctx, s.d.rebind("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"), v, id)
	if err != nil {
		return fmt.Errorf("store: revoke api token %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: revoke api token %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: revoke api token %d: %w", id, ErrNotFound)
	}
	return nil
}

func scanAPIToken(row interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var created, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.SHA256, &t.Role, &t.CreatedBy, &created, &revoked); err != nil {
		return APIToken{}, err
	}
	t.CreatedAt, t.RevokedAt = timeFrom(created), timeFrom(revoked)
	return t, nil
}
