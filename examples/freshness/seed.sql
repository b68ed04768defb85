-- The freshness example: the policies table loaded just now, the claims
-- table last loaded in January 2026 (stale). CURRENT_TIMESTAMP is standard
-- SQL: SQLite, PostgreSQL and MariaDB all know it.
CREATE TABLE etl_loads (table_name VARCHAR(40) NOT NULL, loaded_at TIMESTAMP NOT NULL);
INSERT INTO etl_loads VALUES ('policies', CURRENT_TIMESTAMP);
INSERT INTO etl_loads VALUES ('claims', '2026-01-01 00:00:00');
