-- Download statistics: see migrations/mysql for the why.
CREATE TABLE bouncer_download_counts (
  granularity TEXT NOT NULL,
  bucket BIGINT NOT NULL,
  dims BIGINT NOT NULL,
  product TEXT NOT NULL,
  os TEXT NOT NULL,
  lang TEXT NOT NULL,
  country TEXT NOT NULL,
  target TEXT NOT NULL,
  family SMALLINT NOT NULL,
  scheme TEXT NOT NULL,
  downloads BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (granularity, bucket, dims)
);

CREATE TABLE bouncer_stats_batches (
  id TEXT NOT NULL PRIMARY KEY,
  instance TEXT NOT NULL,
  received_at BIGINT NOT NULL
);
