-- Dashboard sessions and API tokens. Only SHA-256 hashes of the secrets are
-- stored. Times are unix nanoseconds (UTC).
CREATE TABLE sessions (
	id_sha256  TEXT   PRIMARY KEY, -- hex SHA-256 of the cookie's token
	user_name  TEXT   NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	remote     TEXT   NOT NULL,
	user_agent TEXT   NOT NULL
);
CREATE INDEX sessions_user_name ON sessions (user_name);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT   NOT NULL,
	token_sha256 TEXT   NOT NULL UNIQUE,
	role         TEXT   NOT NULL,
	created_by   TEXT   NOT NULL,
	created_at   BIGINT NOT NULL,
	revoked_at   BIGINT            -- NULL while the token is valid
);
-- A name is unique among the tokens not revoked.
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
