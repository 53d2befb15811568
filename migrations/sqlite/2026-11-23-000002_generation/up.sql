-- Catalogue generation: see migrations/mysql for the why.
CREATE TABLE bouncer_generation (
  name TEXT NOT NULL PRIMARY KEY,
  value BIGINT NOT NULL DEFAULT 0
);
INSERT INTO bouncer_generation (name, value) VALUES ('catalogue', 1);
