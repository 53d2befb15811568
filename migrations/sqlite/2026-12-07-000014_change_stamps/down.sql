ALTER TABLE bouncer_changes DROP COLUMN stamp;
