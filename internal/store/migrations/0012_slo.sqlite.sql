-- The status page and the SLOs count each check's runs by start time with
-- runs_check_started (0010), which covers status and time.

-- SLO alerts: a span during which an SLO burned its error budget too fast
-- (multi-window, multi-burn-rate). At most one is open per SLO; its
-- severity only rises (ticket, then page) until it resolves. Times are unix
-- nanoseconds (UTC).
CREATE TABLE slo_incidents (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	slo          TEXT   NOT NULL,
	severity     TEXT   NOT NULL, -- ticket | page
	opened_at    BIGINT NOT NULL,
	escalated_at BIGINT,          -- when a ticket became a page
	resolved_at  BIGINT,
	burn_rates   TEXT   NOT NULL, -- JSON {window: burn rate} when it opened or escalated
	announced    BOOLEAN NOT NULL -- an alert about it was enqueued (its resolution is announced too)
);
CREATE INDEX slo_incidents_slo ON slo_incidents (slo, id);
CREATE UNIQUE INDEX slo_incidents_one_open ON slo_incidents (slo) WHERE resolved_at IS NULL;
