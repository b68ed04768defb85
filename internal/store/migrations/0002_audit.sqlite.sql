-- Who did what, to what, from where. Times are unix nanoseconds (UTC).
CREATE TABLE audit_log (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     BIGINT NOT NULL,
	actor  TEXT   NOT NULL,
	action TEXT   NOT NULL,
	target TEXT   NOT NULL,
	detail TEXT   NOT NULL,
	remote TEXT   NOT NULL
);
