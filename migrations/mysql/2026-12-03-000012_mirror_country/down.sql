ALTER TABLE bouncer_mirror_settings DROP COLUMN country;
