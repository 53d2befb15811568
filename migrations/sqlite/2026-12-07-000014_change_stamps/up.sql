-- A random stamp per generation: see migrations/mysql for the why.
ALTER TABLE bouncer_changes ADD COLUMN stamp BIGINT NOT NULL DEFAULT 0;
