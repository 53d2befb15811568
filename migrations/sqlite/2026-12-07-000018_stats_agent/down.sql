ALTER TABLE bouncer_download_counts DROP COLUMN agent;
