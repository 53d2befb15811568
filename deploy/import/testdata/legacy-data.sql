-- Fixture rows for deploy/import/selftest.sh: a small catalogue plus one row of every kind
-- orphans.sql reports (comments mark them).
INSERT INTO mirror_products (id, name, ssl_only) VALUES (1, 'Firefox-130.0', 0), (2, 'Firefox-130.0-SSL', 1), (3, 'Thunderbird-115.0', 0);
INSERT INTO mirror_product_langs (product_id, language) VALUES (1, 'en-US'), (1, 'de'), (99, 'fr');           -- 99: orphan
INSERT INTO mirror_os (id, name, priority) VALUES (1, 'win', 0), (2, 'win64', 1), (3, 'osx', 2),
  (4, 'WIN', 3);                   -- duplicate name (names compare case-insensitively)
INSERT INTO mirror_aliases (alias, related_product) VALUES ('firefox-latest', 'Firefox-130.0'), ('firefox-latest-ssl', 'Firefox-130.0-SSL'), ('thunderbird-gone', 'Thunderbird-1.0');
INSERT INTO mirror_locations (id, product_id, os_id, path) VALUES
  (1, 1, 1, '/firefox/releases/130.0/win32/:lang/Firefox Setup 130.0.exe'),
  (2, 1, 2, '/firefox/releases/130.0/win64/:lang/Firefox Setup 130.0.exe'),
  (3, 2, 2, '/firefox/releases/130.0/win64/:lang/Firefox Setup 130.0.exe'),
  (4, 77, 1, '/orphan/product'),   -- orphan product
  (5, 1, 9, '/orphan/os'),         -- orphan os
  (6, 3, 4, '/duplicate/os');      -- uses the duplicate os that is not kept
INSERT INTO mirror_mirrors (id, name, baseurl, rating, active) VALUES
  (1, 'mirror-eu', 'http://eu.example.org/pub', 100, 1),
  (2, 'mirror-na', 'https://na.example.org/pub', 50, 1),
  (3, NULL, 'http://nameless.example.org/pub', 10, 0),   -- NULL name
  (4, 'no-url', NULL, 10, 0);                              -- NULL baseurl
INSERT INTO mirror_location_mirror_map (location_id, mirror_id, active, healthy) VALUES
  (1, 1, 1, 1), (1, 2, 1, 1), (2, 1, 1, 1), (3, 2, 1, 1),
  (4, 1, 1, 1),      -- orphan location
  (2, 55, 1, 1),     -- orphan mirror
  (2, 2, NULL, NULL),-- NULL flags
  (NULL, 1, 1, 1),   -- NULL location
  (6, 2, 1, 1);      -- location that is skipped
INSERT INTO geoip_regions (id, name, priority, throttle, fallback_id, prevent_global_fallback) VALUES
  (1, 'Europe', 1, 100, NULL, 0), (2, 'North America', 2, 100, 1, NULL), (3, 'Gone fallback', 3, 50, 42, 0);
INSERT INTO geoip_country_to_region VALUES ('DE', 1, 'Germany', 'EU'), ('US', 2, 'United States', 'NA'), ('XX', 9, 'Nowhere', 'AN'), ('FR', NULL, 'France', 'EU');
INSERT INTO geoip_mirror_region_map (mirror_id, region_id) VALUES (1, 1), (2, 2), (1, 8), (66, 1);
INSERT INTO sentry_log (log_date, check_time, mirror_id, mirror_active, mirror_rating, reason) VALUES
  ('2024-01-01 00:00:00', '2024-01-01 00:00:05', 1, '1', 100, 'ok'),
  ('2024-01-01 00:00:00', '2024-01-01 00:00:05', 2, '0', NULL, NULL),
  ('2024-01-01 00:00:00', '2024-01-01 00:00:05', 55, '1', 1, 'orphan');
