DROP TABLE bouncer_mirror_exclusions;
ALTER TABLE bouncer_mirror_settings DROP COLUMN network_mode;
DROP TABLE bouncer_mirror_networks;
DROP INDEX ix_family_health_location;
DROP TABLE bouncer_family_health;
