-- The address families a mirror's host has (bit 1: IPv4, bit 2: IPv6), as sentry's last
-- run per family found them; NULL: not known, every family (what older rows mean). A
-- mirror with one family needs no per-family rows: its map rows are that family's health
-- and it is not eligible for the other.
ALTER TABLE bouncer_mirror_health ADD COLUMN families SMALLINT NULL;
