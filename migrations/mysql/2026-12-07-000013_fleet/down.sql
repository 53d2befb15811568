DROP TABLE bouncer_instances;
