-- Which source taught sentry a learned file row: see migrations/mysql for the why.
ALTER TABLE bouncer_files ADD COLUMN learned_from INTEGER NULL;
