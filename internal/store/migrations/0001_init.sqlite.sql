-- Runs and their violation keys. Times are unix nanoseconds (UTC).
CREATE TABLE runs (
	id             INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so id order is run order
	check_id       TEXT    NOT NULL,
	kind           TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	violations     BIGINT  NOT NULL,
	sample         TEXT    NOT NULL, -- JSON array of {key, detail}
	duration_ns    BIGINT  NOT NULL,
	error_text     TEXT    NOT NULL,
	started_at     BIGINT,           -- NULL when the result had no start time
	keys_truncated BOOLEAN NOT NULL,
	metrics        TEXT    NOT NULL  -- JSON object
);
CREATE INDEX runs_check_id ON runs (check_id, id);

CREATE TABLE run_keys (
	run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	violation_key TEXT    NOT NULL
);
CREATE INDEX run_keys_run_id ON run_keys (run_id);
