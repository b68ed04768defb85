-- The sql example: one policy with a negative premium.
CREATE TABLE policies (
  policy_id VARCHAR(20) PRIMARY KEY,
  premium DECIMAL(10, 2) NOT NULL,
  agency VARCHAR(20) NOT NULL
);
INSERT INTO policies VALUES ('P-1', 1200.00, 'A-07');
INSERT INTO policies VALUES ('P-2', -35.50, 'A-07');
INSERT INTO policies VALUES ('P-3', 980.00, 'A-12');
