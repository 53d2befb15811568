-- The five tables go-bouncer and today's admin use (production today has no mirror
-- tables), with go-bouncer's keys: a location's key is (id, product_id, os_id), so one id
-- can appear twice; an OS's is (id, name). Fixture of deploy/import/selftest.sh.
CREATE TABLE mirror_aliases (id int NOT NULL AUTO_INCREMENT, alias varchar(255) NOT NULL, related_product varchar(255) NOT NULL, PRIMARY KEY (id), UNIQUE KEY alias (alias)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE mirror_locations (id int NOT NULL AUTO_INCREMENT, product_id int NOT NULL DEFAULT 0, os_id int NOT NULL DEFAULT 0, path varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (id, product_id, os_id), KEY product_os_idx (product_id, os_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE mirror_os (id int unsigned NOT NULL AUTO_INCREMENT, name varchar(32) NOT NULL DEFAULT '', priority int NOT NULL DEFAULT 0, PRIMARY KEY (id, name)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE mirror_product_langs (id int NOT NULL AUTO_INCREMENT, product_id int NOT NULL, language varchar(30) NOT NULL, PRIMARY KEY (id), UNIQUE KEY product_id (product_id, language)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE mirror_products (id int NOT NULL AUTO_INCREMENT, name varchar(255) NOT NULL DEFAULT '', priority int NOT NULL DEFAULT 0, count bigint unsigned NOT NULL DEFAULT 0, active tinyint NOT NULL DEFAULT 1, checknow tinyint(1) unsigned NOT NULL DEFAULT 1, ssl_only tinyint(1) NOT NULL DEFAULT 0, PRIMARY KEY (id), UNIQUE KEY product_name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
