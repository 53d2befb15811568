DROP TABLE bouncer_changes;
