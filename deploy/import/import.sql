-- Copies an existing Bouncer database (@SRC@) into a freshly migrated Bouncer database
-- (@DST@) on the same server, ids preserved, all or nothing. Run through
-- import-legacy.sh, which fills in the names and checks that @DST@ is migrated and empty.
-- Rows that orphans.sql lists are skipped; NULLs where the new schema has NOT NULL take
-- the column's default.
SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO';
START TRANSACTION;

INSERT INTO @DST@.mirror_products (id, name, priority, count, active, checknow, ssl_only)
SELECT id, name, COALESCE(priority, 0), COALESCE(count, 0), COALESCE(active, 1),
       COALESCE(checknow, 1), COALESCE(ssl_only, 0)
FROM @SRC@.mirror_products;

-- Of OSes sharing a name, the lowest id is kept.
INSERT INTO @DST@.mirror_os (id, name, priority)
SELECT o.id, o.name, COALESCE(o.priority, 0) FROM @SRC@.mirror_os o
WHERE o.id = (SELECT MIN(d.id) FROM @SRC@.mirror_os d WHERE d.name = o.name);

INSERT INTO @DST@.mirror_product_langs (id, product_id, language)
SELECT l.id, l.product_id, l.language FROM @SRC@.mirror_product_langs l
JOIN @DST@.mirror_products p ON p.id = l.product_id;

-- go-bouncer's key is (id, product_id, os_id): one id can name several locations. The
-- first of them (by product, then OS) keeps the id; the others get new ids afterwards
-- (clients never see location ids; orphans.sql lists them).
INSERT INTO @DST@.mirror_locations (id, product_id, os_id, path)
SELECT loc.id, loc.product_id, loc.os_id, loc.path FROM @SRC@.mirror_locations loc
JOIN @DST@.mirror_products p ON p.id = loc.product_id
JOIN @DST@.mirror_os o ON o.id = loc.os_id
WHERE NOT EXISTS (SELECT 1 FROM @SRC@.mirror_locations e WHERE e.id = loc.id
  AND (e.product_id < loc.product_id OR (e.product_id = loc.product_id AND e.os_id < loc.os_id)));
INSERT INTO @DST@.mirror_locations (id, product_id, os_id, path)
SELECT NULL, loc.product_id, loc.os_id, loc.path FROM @SRC@.mirror_locations loc
JOIN @DST@.mirror_products p ON p.id = loc.product_id
JOIN @DST@.mirror_os o ON o.id = loc.os_id
WHERE EXISTS (SELECT 1 FROM @SRC@.mirror_locations e WHERE e.id = loc.id
  AND (e.product_id < loc.product_id OR (e.product_id = loc.product_id AND e.os_id < loc.os_id)))
ORDER BY loc.id, loc.product_id, loc.os_id;

INSERT INTO @DST@.mirror_mirrors (id, name, baseurl, rating, active, count)
SELECT id, name, baseurl, COALESCE(rating, 0), COALESCE(active, 0), COALESCE(count, 0)
FROM @SRC@.mirror_mirrors
WHERE name IS NOT NULL AND name <> '' AND baseurl IS NOT NULL AND baseurl <> '';

INSERT INTO @DST@.mirror_location_mirror_map (id, location_id, mirror_id, active, healthy)
SELECT m.id, m.location_id, m.mirror_id, COALESCE(m.active, 0), COALESCE(m.healthy, 1)
FROM @SRC@.mirror_location_mirror_map m
JOIN @DST@.mirror_locations loc ON loc.id = m.location_id
JOIN @DST@.mirror_mirrors mm ON mm.id = m.mirror_id;

INSERT INTO @DST@.mirror_aliases (id, alias, related_product)
SELECT id, alias, related_product FROM @SRC@.mirror_aliases;

-- Regions first without fallbacks (they refer to each other), then the fallbacks that exist.
INSERT INTO @DST@.geoip_regions (id, name, priority, throttle, fallback_id, prevent_global_fallback)
SELECT id, name, COALESCE(priority, 0), COALESCE(throttle, 100), NULL,
       COALESCE(prevent_global_fallback, 0)
FROM @SRC@.geoip_regions WHERE name IS NOT NULL AND name <> '';
UPDATE @DST@.geoip_regions r
JOIN @SRC@.geoip_regions s ON s.id = r.id
JOIN @DST@.geoip_regions f ON f.id = s.fallback_id
SET r.fallback_id = s.fallback_id;

INSERT INTO @DST@.geoip_country_to_region (country_code, region_id, country_name, continent)
SELECT c.country_code, r.id, c.country_name, c.continent FROM @SRC@.geoip_country_to_region c
LEFT JOIN @DST@.geoip_regions r ON r.id = c.region_id;

INSERT INTO @DST@.geoip_mirror_region_map (id, mirror_id, region_id)
SELECT x.id, x.mirror_id, x.region_id FROM @SRC@.geoip_mirror_region_map x
JOIN @DST@.mirror_mirrors m ON m.id = x.mirror_id
JOIN @DST@.geoip_regions r ON r.id = x.region_id;

-- mirror_active was enum('0','1') in the original: compare with '1', never cast (an enum
-- casts to its index).
INSERT INTO @DST@.sentry_log (log_date, check_time, mirror_id, mirror_active, mirror_rating, reason)
SELECT s.log_date, COALESCE(s.check_time, s.log_date), s.mirror_id, s.mirror_active = '1',
       COALESCE(s.mirror_rating, 0), COALESCE(s.reason, '')
FROM @SRC@.sentry_log s JOIN @DST@.mirror_mirrors m ON m.id = s.mirror_id;

-- Caches and replicas key on the generation: the imported catalogue is a new one, and the
-- change log says "everything" for it (the one write path, as core's changes::record).
UPDATE @DST@.bouncer_generation SET value = value + 1 WHERE name = 'catalogue';
INSERT INTO @DST@.bouncer_changes (generation, kind, entity)
SELECT value, 'all', 0 FROM @DST@.bouncer_generation WHERE name = 'catalogue';
INSERT INTO @DST@.bouncer_audit_log (created_at, actor, action, target, before_json, after_json)
VALUES (NOW(6), 'import', 'catalogue.import', 'database:@SRC@', NULL, NULL);
COMMIT;
