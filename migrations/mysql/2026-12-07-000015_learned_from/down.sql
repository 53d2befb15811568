ALTER TABLE bouncer_files DROP COLUMN learned_from;
