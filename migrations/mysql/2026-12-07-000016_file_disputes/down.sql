ALTER TABLE bouncer_files DROP COLUMN disputed;
