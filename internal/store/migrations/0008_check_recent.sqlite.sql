-- Each check's newest run and the statuses of its recent runs, kept by a
-- trigger on every insert into runs, so the dashboard's overview reads one
-- row per check instead of its runs (store.RecentHistory). statuses holds
-- one letter per run, newest first, at most 50: p(ass) w(arn) f(ail)
-- e(rror), x for anything else. Retention does not touch it: it describes
-- history, even runs since rolled up.
CREATE TABLE check_recent (
	check_id         TEXT    PRIMARY KEY,
	last_run_id      INTEGER NOT NULL,
	last_status      TEXT    NOT NULL,
	last_violations  BIGINT  NOT NULL,
	last_started_at  BIGINT,
	last_duration_ns BIGINT  NOT NULL,
	statuses         TEXT    NOT NULL
);

INSERT INTO check_recent (check_id, last_run_id, last_status, last_violations, last_started_at, last_duration_ns, statuses)
SELECT r.check_id, r.id, r.status, r.violations, r.started_at, r.duration_ns,
	(SELECT group_concat(CASE x.status WHEN 'pass' THEN 'p' WHEN 'warn' THEN 'w' WHEN 'fail' THEN 'f' WHEN 'error' THEN 'e' ELSE 'x' END, '' ORDER BY x.id DESC)
	 FROM (SELECT id, status FROM runs WHERE check_id = r.check_id ORDER BY id DESC LIMIT 50) x)
FROM runs r WHERE r.id IN (SELECT MAX(id) FROM runs GROUP BY check_id);

CREATE TRIGGER runs_check_recent AFTER INSERT ON runs BEGIN
	INSERT INTO check_recent (check_id, last_run_id, last_status, last_violations, last_started_at, last_duration_ns, statuses)
	VALUES (NEW.check_id, NEW.id, NEW.status, NEW.violations, NEW.started_at, NEW.duration_ns,
		CASE NEW.status WHEN 'pass' THEN 'p' WHEN 'warn' THEN 'w' WHEN 'fail' THEN 'f' WHEN 'error' THEN 'e' ELSE 'x' END)
	ON CONFLICT (check_id) DO UPDATE SET
		last_run_id = excluded.last_run_id, last_status = excluded.last_status, last_violations = excluded.last_violations,
		last_started_at = excluded.last_started_at, last_duration_ns = excluded.last_duration_ns,
		statuses = substr(excluded.statuses || check_recent.statuses, 1, 50);
END;
