DROP TABLE bouncer_mirror_exclusions;
ALTER TABLE bouncer_mirror_settings DROP COLUMN network_mode;
DROP TABLE bouncer_mirror_networks;
DROP TABLE bouncer_family_health;
