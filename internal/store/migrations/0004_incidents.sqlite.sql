-- Incident state: each check's streaks, its incidents, silences, and the
-- alert outbox. Times are unix nanoseconds (UTC). Run ids are not foreign
-- keys: retention deletes old runs, the incidents that name them stay.
CREATE TABLE check_state (
	check_id      TEXT   PRIMARY KEY,
	kind          TEXT   NOT NULL,
	owner         TEXT   NOT NULL,
	runbook       TEXT   NOT NULL,
	tags          TEXT   NOT NULL, -- JSON array, as of the latest run
	status        TEXT   NOT NULL, -- the latest run's; '' before the first
	since         BIGINT,          -- first run of the current same-status streak
	non_pass      BIGINT NOT NULL, -- consecutive fail/error runs ending with the latest
	passes        BIGINT NOT NULL, -- consecutive pass runs ending with the latest
	failing_since BIGINT,          -- first run of the current non-pass streak
	incident_id   BIGINT,          -- the open incident, if any
	last_run_id   BIGINT,
	updated_at    BIGINT           -- NULL until the first run is saved
);

CREATE TABLE incidents (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	check_id         TEXT   NOT NULL,
	since            BIGINT NOT NULL, -- first non-pass run of the streak that opened it
	opened_at        BIGINT NOT NULL,
	resolved_at      BIGINT,
	opened_status    TEXT   NOT NULL, -- fail or error
	last_status      TEXT   NOT NULL,
	last_violations  BIGINT NOT NULL,
	worst_violations BIGINT NOT NULL,
	opened_run_id    BIGINT NOT NULL,
	last_run_id      BIGINT NOT NULL,
	resolved_run_id  BIGINT,
	acked_by         TEXT   NOT NULL DEFAULT '',
	acked_at         BIGINT,
	ack_note         TEXT   NOT NULL DEFAULT '',
	notified_at      BIGINT           -- latest alert enqueued for it; NULL: never announced
);
CREATE INDEX incidents_check_id ON incidents (check_id, id);
CREATE UNIQUE INDEX incidents_one_open ON incidents (check_id) WHERE resolved_at IS NULL;

CREATE TABLE silences (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	matcher        TEXT    NOT NULL, -- a check id or a tag
	until_at       BIGINT  NOT NULL,
	author         TEXT    NOT NULL,
	reason         TEXT    NOT NULL,
	created_at     BIGINT  NOT NULL,
	expired_at     BIGINT,           -- set when ended early
	expired_by     TEXT    NOT NULL DEFAULT '',
	expiry_handled BOOLEAN NOT NULL DEFAULT FALSE -- its natural expiry was processed (or it ended early)
);
CREATE INDEX silences_until_at ON silences (until_at);

CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	check_id        TEXT   NOT NULL,
	incident_id     BIGINT,
	kind            TEXT   NOT NULL, -- opened | resolved | reminder | silence_expired
	payload         TEXT   NOT NULL, -- JSON
	created_at      BIGINT NOT NULL,
	attempts        BIGINT NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	delivered_at    BIGINT,
	last_error      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON outbox (check_id, id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
