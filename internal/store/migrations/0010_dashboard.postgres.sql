-- The dashboard's history chart and incident timeline, and silences that
-- start later than they are set. Times are unix nanoseconds (UTC).

-- The kind's own measure of a run (checks.MetricMeasure: queue depth,
-- latency, age), NULL when the kind has none; rollups keep the hour's
-- largest, and the hour's smallest violation count (both NULL for hours
-- rolled up before this migration).
ALTER TABLE runs ADD COLUMN measure DOUBLE PRECISION;
ALTER TABLE run_rollups ADD COLUMN max_measure DOUBLE PRECISION;
ALTER TABLE run_rollups ADD COLUMN min_violations BIGINT;
-- A check's month of hours is read from the index alone.
CREATE INDEX run_rollups_history ON run_rollups (check_id, hour)
	INCLUDE (pass_runs, warn_runs, fail_runs, error_runs, max_violations, duration_ns, min_violations, max_measure);

-- The chart reads one check's runs by start time, from this index alone
-- (a check's runs lie scattered among every other check's).
CREATE INDEX runs_check_started ON runs (check_id, started_at, status, violations, duration_ns, measure);

-- The incident timeline reads the acks from the audit log.
CREATE INDEX audit_log_action ON audit_log (action, id);

-- When a silence starts (until then it silences nothing); silences set
-- before this migration started when they were set.
ALTER TABLE silences ADD COLUMN starts_at BIGINT;
UPDATE silences SET starts_at = created_at;
