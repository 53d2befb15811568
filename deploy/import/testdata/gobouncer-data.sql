-- A catalogue in go-bouncer's shape: location id 65 names two locations (as in
-- go-bouncer's own fixture), which the import must keep both of.
INSERT INTO mirror_products (id, name, ssl_only) VALUES (1, 'Firefox', 0), (2, 'Firefox-SSL', 1), (3, 'Thunderbird', 0);
INSERT INTO mirror_os (id, name) VALUES (1, 'win'), (2, 'osx');
INSERT INTO mirror_product_langs (id, product_id, language) VALUES (1, 3, 'de'), (2, 3, 'en-US');
INSERT INTO mirror_locations (id, product_id, os_id, path) VALUES
  (64, 1, 1, '/firefox/releases/120.0/win32/:lang/Firefox%20Setup%20120.0.exe'),
  (65, 1, 2, '/firefox/releases/120.0/mac/:lang/Firefox%20120.0.dmg'),
  (65, 2, 1, '/firefox/releases/120.0/win32/:lang/Firefox%20Setup%20120.0.exe'),
  (66, 3, 1, '/thunderbird/releases/115.0/win32/:lang/Thunderbird%20Setup%20115.0.exe');
INSERT INTO mirror_aliases (id, alias, related_product) VALUES (1, 'firefox-latest', 'Firefox');
