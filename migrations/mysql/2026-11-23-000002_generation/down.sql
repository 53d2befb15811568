DROP TABLE bouncer_generation;
