-- The endorsements example: three policies in Florida with flood cover.
-- P-1 carries its flood endorsement; P-2 is missing it; P-3 reissues P-1
-- without copying it. Portable SQL: SQLite, PostgreSQL, MariaDB.
CREATE TABLE policies (
  policy_id VARCHAR(20) PRIMARY KEY,
  transaction_type VARCHAR(20) NOT NULL,
  reissue_of VARCHAR(20),
  state VARCHAR(2) NOT NULL
);
CREATE TABLE endorsements (policy_id VARCHAR(20) NOT NULL, code VARCHAR(30) NOT NULL);
CREATE TABLE policy_coverages (policy_id VARCHAR(20) NOT NULL, coverage VARCHAR(30) NOT NULL);
INSERT INTO policies VALUES ('P-1', 'new', NULL, 'FL');
INSERT INTO policies VALUES ('P-2', 'new', NULL, 'FL');
INSERT INTO policies VALUES ('P-3', 'reissue', 'P-1', 'FL');
INSERT INTO policies VALUES ('P-4', 'new', NULL, 'TX');
INSERT INTO endorsements VALUES ('P-1', 'EN-FLOOD-01');
INSERT INTO policy_coverages VALUES ('P-1', 'flood');
INSERT INTO policy_coverages VALUES ('P-2', 'flood');
INSERT INTO policy_coverages VALUES ('P-3', 'flood');
INSERT INTO policy_coverages VALUES ('P-4', 'flood');
