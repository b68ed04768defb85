-- The status_page example: quotes, policies and their documents, all clean.
CREATE TABLE quotes (
  quote_id VARCHAR(20) PRIMARY KEY,
  premium DECIMAL(10, 2) NOT NULL
);
INSERT INTO quotes VALUES ('Q-1', 310.00);
INSERT INTO quotes VALUES ('Q-2', 1275.50);
CREATE TABLE policies (
  policy_id VARCHAR(20) PRIMARY KEY,
  status VARCHAR(20) NOT NULL,
  document_id VARCHAR(20)
);
INSERT INTO policies VALUES ('P-1', 'issued', 'D-1');
INSERT INTO policies VALUES ('P-2', 'bound', NULL);
CREATE TABLE document_jobs (
  job_id VARCHAR(20) PRIMARY KEY,
  state VARCHAR(20) NOT NULL,
  error VARCHAR(200)
);
INSERT INTO document_jobs VALUES ('J-1', 'done', NULL);
