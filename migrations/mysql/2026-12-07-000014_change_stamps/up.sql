-- A random stamp per generation, on every change row of that generation and beside the
-- generation published in memcached: the identity of a generation number. A database
-- restored from a backup, or a promoted replica that missed writes, reuses numbers that
-- bounce already served with other contents; the stamps differ, and the writers see it
-- (crates/core/src/history.rs). 0: written before stamps existed.
ALTER TABLE bouncer_changes ADD COLUMN stamp BIGINT NOT NULL DEFAULT 0;
