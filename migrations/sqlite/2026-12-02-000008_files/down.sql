DROP TABLE bouncer_mirror_settings;
DROP TABLE bouncer_files;
