DROP TABLE bouncer_stats_batches;
DROP TABLE bouncer_download_counts;
