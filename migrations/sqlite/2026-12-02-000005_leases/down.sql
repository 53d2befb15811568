DROP TABLE bouncer_leases;
