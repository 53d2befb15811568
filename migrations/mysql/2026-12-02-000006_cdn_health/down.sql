DROP TABLE bouncer_cdn_health;
