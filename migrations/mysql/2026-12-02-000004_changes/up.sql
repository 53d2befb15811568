-- The change log (outbox): every write that bumps the catalogue generation records, in the
-- same transaction, what it changed. bounce reads it to update exactly those entries; a
-- generation with no row here (a writer that predates the log) makes bounce reload all.
CREATE TABLE bouncer_changes (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  generation BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  entity BIGINT NOT NULL DEFAULT 0,
  KEY changes_generation (generation)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
