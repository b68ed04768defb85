-- The slos example: issued policies with their documents, written once,
-- and clean status histories.
CREATE TABLE policies (
  policy_id VARCHAR(20) PRIMARY KEY,
  status VARCHAR(20) NOT NULL,
  document_id VARCHAR(20)
);
INSERT INTO policies VALUES ('P-1', 'issued', 'D-1');
INSERT INTO policies VALUES ('P-2', 'issued', 'D-2');
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  policy_id VARCHAR(20) NOT NULL,
  doc_type VARCHAR(20) NOT NULL,
  created_at VARCHAR(30) NOT NULL
);
INSERT INTO documents VALUES (1, 'P-1', 'policy', '2025-03-01 10:00:00');
INSERT INTO documents VALUES (2, 'P-2', 'policy', '2025-03-01 10:05:00');
CREATE TABLE policy_status_history (
  id INTEGER PRIMARY KEY,
  policy_id VARCHAR(20) NOT NULL,
  status VARCHAR(20) NOT NULL,
  changed_at VARCHAR(30) NOT NULL
);
INSERT INTO policy_status_history VALUES (1, 'P-1', 'quoted', '2025-03-01 09:00:00');
INSERT INTO policy_status_history VALUES (2, 'P-1', 'bound', '2025-03-01 09:30:00');
INSERT INTO policy_status_history VALUES (3, 'P-1', 'issued', '2025-03-01 10:00:00');
