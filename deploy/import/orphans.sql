-- Rows of an existing Bouncer database that Bouncer's schema cannot take as they are: it
-- has foreign keys, unique keys and NOT NULL columns the original lacked. Every query
-- lists what the import will skip or change. Run against the old database (mysql
-- client, `USE <old database>` first, or `mariadb OLD_DB < orphans.sql`); each query lists
-- offenders, an empty result is fine. import-legacy.sh skips these rows; fix or delete them
-- first if they matter. The label column says what each row is.

-- Mirrors without a name or base URL (both NOT NULL now).
SELECT 'mirror without name or baseurl' AS problem, id, name, baseurl
FROM mirror_mirrors WHERE name IS NULL OR name = '' OR baseurl IS NULL OR baseurl = '';

-- Operating systems with the same name (mirror_os.name is UNIQUE now).
SELECT 'duplicate os name' AS problem, name, COUNT(*) AS n, GROUP_CONCAT(id) AS ids
FROM mirror_os GROUP BY name HAVING COUNT(*) > 1;

-- Languages of products that no longer exist.
SELECT 'language of missing product' AS problem, l.id, l.product_id, l.language
FROM mirror_product_langs l LEFT JOIN mirror_products p ON p.id = l.product_id
WHERE p.id IS NULL;

-- Locations whose product or OS no longer exists (or is a duplicate OS that is not kept).
SELECT 'location of missing product or os' AS problem, loc.id, loc.product_id, loc.os_id, loc.path
FROM mirror_locations loc
LEFT JOIN mirror_products p ON p.id = loc.product_id
LEFT JOIN mirror_os o ON o.id = loc.os_id
WHERE p.id IS NULL OR o.id IS NULL
   OR o.id <> (SELECT MIN(d.id) FROM mirror_os d WHERE d.name = o.name);

-- Locations sharing an id (go-bouncer's key is (id, product_id, os_id)): all but the first
-- (by product, then OS) get new ids; mirror map rows of that id stay with the first.
SELECT 'location id shared: gets a new id' AS problem, loc.id, loc.product_id, loc.os_id, loc.path
FROM mirror_locations loc
WHERE EXISTS (SELECT 1 FROM mirror_locations e WHERE e.id = loc.id
  AND (e.product_id < loc.product_id OR (e.product_id = loc.product_id AND e.os_id < loc.os_id)));

-- Mirror map rows whose location or mirror is missing or skipped (queries above).
SELECT 'map row of missing location or mirror' AS problem, m.id, m.location_id, m.mirror_id
FROM mirror_location_mirror_map m
LEFT JOIN mirror_locations loc ON loc.id = m.location_id
LEFT JOIN mirror_products p ON p.id = loc.product_id
LEFT JOIN mirror_os o ON o.id = loc.os_id
LEFT JOIN mirror_mirrors mm ON mm.id = m.mirror_id
WHERE loc.id IS NULL OR p.id IS NULL OR o.id IS NULL
   OR o.id <> (SELECT MIN(d.id) FROM mirror_os d WHERE d.name = o.name)
   OR mm.id IS NULL OR mm.name IS NULL OR mm.baseurl IS NULL;

-- Regions without a name, and fallbacks to regions that no longer exist (imported as none).
SELECT 'region without name' AS problem, id FROM geoip_regions WHERE name IS NULL OR name = '';
SELECT 'fallback to missing region' AS problem, r.id, r.name, r.fallback_id
FROM geoip_regions r LEFT JOIN geoip_regions f ON f.id = r.fallback_id
WHERE r.fallback_id IS NOT NULL AND f.id IS NULL;

-- Countries mapped to a missing region (imported with no region).
SELECT 'country of missing region' AS problem, c.country_code, c.region_id
FROM geoip_country_to_region c LEFT JOIN geoip_regions r ON r.id = c.region_id
WHERE c.region_id IS NOT NULL AND r.id IS NULL;

-- Mirror-region memberships whose mirror or region is missing.
SELECT 'mirror region of missing mirror or region' AS problem, x.id, x.mirror_id, x.region_id
FROM geoip_mirror_region_map x
LEFT JOIN mirror_mirrors m ON m.id = x.mirror_id
LEFT JOIN geoip_regions r ON r.id = x.region_id
WHERE m.id IS NULL OR r.id IS NULL OR m.name IS NULL OR m.baseurl IS NULL;

-- Checker log rows of missing mirrors.
SELECT 'sentry_log of missing mirror' AS problem, s.mirror_id, COUNT(*) AS n
FROM sentry_log s LEFT JOIN mirror_mirrors m ON m.id = s.mirror_id
WHERE m.id IS NULL OR m.name IS NULL OR m.baseurl IS NULL GROUP BY s.mirror_id;
