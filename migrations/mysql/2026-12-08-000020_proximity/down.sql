DROP TABLE bouncer_region_rtt;
DROP TABLE bouncer_vantage_rtt;
