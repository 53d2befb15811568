-- A bouncer_files row (size, sha256) for every seeded location and each language the
-- benchmark URLs ask for, so redirects carry Repr-Digest/Digest (issue 15). Used by
-- release-day.sh (FILES=1), ab.sh and callgrind.sh.
INSERT INTO bouncer_files (location_id, lang, size, sha256, source, updated_at)
SELECT l.id, g.lang, 1000 + l.id, SHA2(CONCAT('bench-file-', l.id, '-', g.lang), 256), 'operator', NOW(6)
FROM mirror_locations l
CROSS JOIN (SELECT 'en-US' AS lang UNION ALL SELECT 'de' UNION ALL SELECT 'fr' UNION ALL SELECT 'ja') g;
