-- Why a learned size is not enforced: see migrations/mysql for the why.
ALTER TABLE bouncer_files ADD COLUMN disputed TEXT NULL;
