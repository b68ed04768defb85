-- The script execution log (internal/scriptlog): an append-only, hash-chained
-- sequence of entries. A run is a 'start' entry (written before the command
-- runs; its seq is the run's id) and a 'finish' entry (run_id = the start's
-- seq); 'checkpoint' entries vouch for entries removed by retention. Rows are
-- never updated. Columns a kind does not use hold their zero value; every
-- column but hash and prev_hash is covered by the hash (scriptlog.Canonical).
CREATE TABLE script_log (
    seq           INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('start', 'finish', 'checkpoint')),
    run_id        INTEGER NOT NULL,
    script        TEXT    NOT NULL DEFAULT '',
    script_sha256 TEXT    NOT NULL DEFAULT '',
    actor         TEXT    NOT NULL DEFAULT '',
    purpose       TEXT    NOT NULL DEFAULT '',
    ticket        TEXT    NOT NULL DEFAULT '',
    target        TEXT    NOT NULL DEFAULT '',
    inputs        TEXT    NOT NULL DEFAULT '',
    at            TEXT    NOT NULL, -- UTC, fixed width: 2006-01-02T15:04:05.000000Z
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    exit_code     INTEGER NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL DEFAULT '',
    output_bytes  INTEGER NOT NULL DEFAULT 0,
    checkpoint    TEXT    NOT NULL DEFAULT '',
    prev_hash     TEXT    NOT NULL,
    hash          TEXT    NOT NULL,
    output        BLOB    NOT NULL DEFAULT x'' -- last, so scans of the other columns stay off overflow pages
);
CREATE UNIQUE INDEX script_log_finish ON script_log (run_id) WHERE kind = 'finish';
CREATE INDEX script_log_finish_status ON script_log (status, run_id) WHERE kind = 'finish';
CREATE INDEX script_log_start_at ON script_log (at) WHERE kind = 'start';
CREATE INDEX script_log_start_actor ON script_log (actor) WHERE kind = 'start';
CREATE INDEX script_log_start_ticket ON script_log (ticket) WHERE kind = 'start';
CREATE INDEX script_log_start_target ON script_log (target) WHERE kind = 'start';
-- Substring search over runs (scriptlog.Query.Text and Purpose): a trigram
-- index of each start entry, keyed by its seq, maintained by internal/scriptlog
-- (the append path inserts, retention deletes). Contentless: it stores no
-- copy of the text.
CREATE VIRTUAL TABLE script_log_text USING fts5(
    script, inputs, purpose,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);
