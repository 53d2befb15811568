-- Download statistics (issue 31). bounce counts downloads in memory and never writes the
-- database: it sends its counts in batches to tuxedo, which adds them here. A count is
-- kept per period and per combination of what bounce knows about a download (`dims` is a
-- hash of product, os, lang, country, target, family and scheme, which are also stored,
-- so the key stays short whatever the names). Each batch adds to its minute, hour and
-- day rows at once (`granularity` m, h, d), so reports of any length read few rows, and
-- each granularity is pruned after its own retention. `bucket` is the period's start in
-- Unix seconds (UTC). No client address or User-Agent is stored, ever.
CREATE TABLE bouncer_download_counts (
  granularity CHAR(1) NOT NULL,
  bucket BIGINT NOT NULL,
  dims BIGINT NOT NULL,
  product VARCHAR(255) NOT NULL,
  os VARCHAR(255) NOT NULL,
  lang VARCHAR(32) NOT NULL,
  country CHAR(2) NOT NULL,
  target VARCHAR(32) NOT NULL,
  family SMALLINT NOT NULL,
  scheme VARCHAR(8) NOT NULL,
  downloads BIGINT NOT NULL,
  bytes BIGINT NOT NULL,
  PRIMARY KEY (granularity, bucket, dims)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The batches already added, by the id their sender gave them: a batch sent again (its
-- answer was lost, the sender retried) is recognised and not counted twice. Pruned with
-- the minute rows.
CREATE TABLE bouncer_stats_batches (
  id VARCHAR(64) NOT NULL PRIMARY KEY,
  instance VARCHAR(255) NOT NULL,
  received_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
