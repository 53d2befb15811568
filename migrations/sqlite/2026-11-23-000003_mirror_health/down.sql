ALTER TABLE mirror_location_mirror_map DROP COLUMN ok_streak;
ALTER TABLE mirror_location_mirror_map DROP COLUMN fail_streak;
DROP TABLE bouncer_mirror_health;
