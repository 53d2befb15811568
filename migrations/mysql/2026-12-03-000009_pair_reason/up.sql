-- Why sentry last changed a pair's health (e.g. "size mismatch: 1234 bytes, expected
-- 5678"), for bounce's mirror list; '' while the pair is healthy.
ALTER TABLE mirror_location_mirror_map ADD COLUMN reason VARCHAR(255) NOT NULL DEFAULT '';
