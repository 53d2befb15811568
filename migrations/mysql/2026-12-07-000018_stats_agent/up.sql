-- Download statistics by kind of client (issue 31): `agent` is `user`, or `bot` when the
-- request's User-Agent matched bounce's bot mask (`bounce.stats_bots`), so crawlers are
-- counted in their own bucket instead of inflating downloads. The User-Agent itself is
-- never stored. Existing counts are people's (the mask did not exist).
ALTER TABLE bouncer_download_counts ADD COLUMN agent VARCHAR(8) NOT NULL DEFAULT 'user';
