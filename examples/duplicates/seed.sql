-- The duplicates example: policy P-2's invoice was written twice 300 ms
-- apart (a race); P-1's was re-issued an hour later (legitimate).
CREATE TABLE documents (
  id INTEGER PRIMARY KEY,
  policy_id VARCHAR(20) NOT NULL,
  doc_type VARCHAR(20) NOT NULL,
  created_at VARCHAR(30) NOT NULL
);
INSERT INTO documents VALUES (1, 'P-1', 'invoice', '2026-03-01 09:00:00.000');
INSERT INTO documents VALUES (2, 'P-1', 'invoice', '2026-03-01 10:00:00.000');
INSERT INTO documents VALUES (3, 'P-2', 'invoice', '2026-03-01 09:15:00.100');
INSERT INTO documents VALUES (4, 'P-2', 'invoice', '2026-03-01 09:15:00.400');
INSERT INTO documents VALUES (5, 'P-2', 'id_card', '2026-03-01 09:15:00.400');
