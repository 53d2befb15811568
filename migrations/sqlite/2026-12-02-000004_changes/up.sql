-- The change log (outbox): see migrations/mysql for the why.
CREATE TABLE bouncer_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  generation BIGINT NOT NULL,
  kind TEXT NOT NULL,
  entity BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX changes_generation ON bouncer_changes (generation);
