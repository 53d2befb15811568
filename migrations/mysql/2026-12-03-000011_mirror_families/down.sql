ALTER TABLE bouncer_mirror_health DROP COLUMN families;
