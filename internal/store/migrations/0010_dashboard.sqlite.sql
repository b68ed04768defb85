-- The dashboard's history chart and incident timeline, and silences that
-- start later than they are set. Times are unix nanoseconds (UTC).

-- The kind's own measure of a run (checks.MetricMeasure: queue depth,
-- latency, age), NULL when the kind has none; rollups keep the hour's
-- largest, and the hour's smallest violation count (both NULL for hours
-- rolled up before this migration).
ALTER TABLE runs ADD COLUMN measure DOUBLE PRECISION;
-- run_rollups is rebuilt clustered by (check_id, hour), so that a check's
-- month of hours is read in a few pages, not one page per hour.
CREATE TABLE run_rollups_by_check (
	check_id       TEXT   NOT NULL,
	hour           BIGINT NOT NULL,
	pass_runs      BIGINT NOT NULL,
	warn_runs      BIGINT NOT NULL,
	fail_runs      BIGINT NOT NULL,
	error_runs     BIGINT NOT NULL, -- error, and any unknown status
	max_violations BIGINT NOT NULL,
	duration_ns    BIGINT NOT NULL, -- total over the runs
	min_violations BIGINT,
	max_measure    DOUBLE PRECISION,
	PRIMARY KEY (check_id, hour)
) WITHOUT ROWID;
INSERT INTO run_rollups_by_check (check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns)
SELECT check_id, hour, pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns FROM run_rollups;
DROP TABLE run_rollups;
ALTER TABLE run_rollups_by_check RENAME TO run_rollups;

-- The chart reads one check's runs by start time, from this index alone
-- (a check's runs lie scattered among every other check's).
CREATE INDEX runs_check_started ON runs (check_id, started_at, status, violations, duration_ns, measure);

-- The incident timeline reads the acks from the audit log.
CREATE INDEX audit_log_action ON audit_log (action, id);

-- When a silence starts (until then it silences nothing); silences set
-- before this migration started when they were set.
ALTER TABLE silences ADD COLUMN starts_at BIGINT;
UPDATE silences SET starts_at = created_at;
