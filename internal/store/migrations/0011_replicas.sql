-- Replicas sharing a PostgreSQL store all schedule: each (check, tick) runs
-- on the replica that claims it in tick_claims. Each replica's heartbeat and
-- figures are kept in replicas. Times are unix nanoseconds (UTC).
CREATE TABLE replicas (
	id          TEXT   NOT NULL PRIMARY KEY,
	started_at  BIGINT NOT NULL,
	seen_at     BIGINT NOT NULL,
	runs_minute BIGINT NOT NULL,
	lag_ns      BIGINT NOT NULL
);

-- Claims are keyed by time first: they arrive in time order (appends to the
-- right edge of the index) and are pruned by time (a range of the key).
DROP TABLE tick_claims;
CREATE TABLE tick_claims (
	scheduled_at BIGINT NOT NULL,
	check_id     TEXT   NOT NULL,
	holder       TEXT   NOT NULL,
	PRIMARY KEY (scheduled_at, check_id)
);
