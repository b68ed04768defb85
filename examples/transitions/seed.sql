-- The transitions example: P-1 moves quoted -> bound -> issued; P-2's
-- "issued" arrived before its "bound" (an out-of-order update).
CREATE TABLE policy_status_history (
  id INTEGER PRIMARY KEY,
  policy_id VARCHAR(20) NOT NULL,
  status VARCHAR(20) NOT NULL,
  changed_at VARCHAR(30) NOT NULL
);
INSERT INTO policy_status_history VALUES (1, 'P-1', 'quoted', '2026-03-01 09:00:00');
INSERT INTO policy_status_history VALUES (2, 'P-1', 'bound', '2026-03-01 09:05:00');
INSERT INTO policy_status_history VALUES (3, 'P-1', 'issued', '2026-03-01 09:10:00');
INSERT INTO policy_status_history VALUES (4, 'P-2', 'quoted', '2026-03-01 09:00:00');
INSERT INTO policy_status_history VALUES (5, 'P-2', 'issued', '2026-03-01 09:04:00');
INSERT INTO policy_status_history VALUES (6, 'P-2', 'bound', '2026-03-01 09:05:00');
