-- Catalogue generation: bumped in the same transaction as every write that changes what
-- bounce serves. Caches key their entries by it, and a replica whose row is older than the
-- generation a reader expects has not replicated that write yet.
CREATE TABLE bouncer_generation (
  name VARCHAR(32) NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO bouncer_generation (name, value) VALUES ('catalogue', 1);
