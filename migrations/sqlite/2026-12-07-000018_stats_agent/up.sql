-- Download statistics by kind of client: see migrations/mysql for the why.
ALTER TABLE bouncer_download_counts ADD COLUMN agent TEXT NOT NULL DEFAULT 'user';
