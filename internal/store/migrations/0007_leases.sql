-- Leadership among replicas sharing one store, and the ticks they claimed.
-- Times are unix nanoseconds (UTC).
CREATE TABLE leases (
	name       TEXT   NOT NULL PRIMARY KEY,
	holder     TEXT   NOT NULL,
	expires_at BIGINT NOT NULL
);

CREATE TABLE tick_claims (
	check_id     TEXT   NOT NULL,
	scheduled_at BIGINT NOT NULL,
	holder       TEXT   NOT NULL,
	PRIMARY KEY (check_id, scheduled_at)
);
