DROP TABLE bouncer_vantages;
DROP TABLE bouncer_region_health;
DROP TABLE bouncer_vantage_health;
