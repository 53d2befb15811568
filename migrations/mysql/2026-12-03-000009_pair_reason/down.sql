ALTER TABLE mirror_location_mirror_map DROP COLUMN reason;
