-- The country a mirror stands in (ISO 3166 alpha-2, upper case), for RFC 6249's `geo=` on
-- redirects' Link headers and RFC 5854's `location` in Metalinks; NULL: not given.
-- Regions say whom a mirror serves, not where it is.
ALTER TABLE bouncer_mirror_settings ADD COLUMN country CHAR(2) NULL;
