-- Hourly roll-ups of runs that retention removed: one row per check per
-- hour (the hour's start, unix nanoseconds UTC).
CREATE TABLE run_rollups (
	check_id       TEXT   NOT NULL,
	hour           BIGINT NOT NULL,
	pass_runs      BIGINT NOT NULL,
	warn_runs      BIGINT NOT NULL,
	fail_runs      BIGINT NOT NULL,
	error_runs     BIGINT NOT NULL, -- error, and any unknown status
	max_violations BIGINT NOT NULL,
	duration_ns    BIGINT NOT NULL, -- total over the runs
	PRIMARY KEY (check_id, hour)
);
