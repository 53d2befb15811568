#!/usr/bin/env bash
# Proves import-legacy.sh on a real MariaDB: loads the legacy fixture (testdata/: the
# original schema, a small catalogue and one row of every problem orphans.sql reports)
# into a scratch database, migrates a second one with the real `tuxedo migrate`, imports,
# and checks every table's content. Also checks that `migrate` refuses the legacy database
# and that a second import into a non-empty database is refused.
#   selftest.sh [-- MARIADB_CLIENT_ARGS...]   default: the topology primary (deploy/topology)
# Needs a built tuxedo (target/debug or target/release) or cargo. Drops its databases.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
[ "${1:-}" = -- ] && shift
args=("$@")
((${#args[@]})) || args=(--no-defaults -h 127.0.0.1 -P "${BOUNCER_TOPOLOGY_PRIMARY:-3407}" -u root)
db() { mariadb "${args[@]}" -N -B "$@"; }

# The server URL for tuxedo, from the client arguments (host, port, user; no password).
host=127.0.0.1 port=3306 user=root
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -h) host="${args[$((i + 1))]}" ;;
    -P) port="${args[$((i + 1))]}" ;;
    -u) user="${args[$((i + 1))]}" ;;
  esac
done
tuxedo=()
for d in "${CARGO_TARGET_DIR:-$root/target}/debug" "${CARGO_TARGET_DIR:-$root/target}/release"; do
  [ -x "$d/tuxedo" ] && { tuxedo=("$d/tuxedo"); break; }
done
((${#tuxedo[@]})) || tuxedo=(cargo run -q --manifest-path "$root/Cargo.toml" -p tuxedo --)

old="import_selftest_old_$$" new="import_selftest_new_$$"
cleanup() { db -e "DROP DATABASE IF EXISTS $old; DROP DATABASE IF EXISTS $new" || true; }
trap cleanup EXIT
db -e "CREATE DATABASE $old CHARACTER SET utf8 COLLATE utf8_general_ci; CREATE DATABASE $new"
db "$old" <"$here/testdata/legacy-schema.sql"
db "$old" <"$here/testdata/legacy-data.sql"

failures=0
expect() {
  local what="$1" want="$2" got="$3"
  if [ "$got" = "$want" ]; then echo "ok    $what"; else echo "FAIL  $what: want '$want', got '$got'"; failures=1; fi
}

# migrate cannot run on the legacy database: the reason the import exists.
if BOUNCER_DATABASE__URL="mysql://$user@$host:$port/$old" "${tuxedo[@]}" migrate >/dev/null 2>&1; then
  expect "tuxedo migrate refuses the legacy database" refused accepted
else
  expect "tuxedo migrate refuses the legacy database" refused refused
fi
db -e "DROP TABLE IF EXISTS $old.__diesel_schema_migrations"

BOUNCER_DATABASE__URL="mysql://$user@$host:$port/$new" "${tuxedo[@]}" migrate >/dev/null 2>&1
"$here/import-legacy.sh" --check "$old" "$new" -- "${args[@]}" >/dev/null
expect "--check changes nothing" 0 "$(db -e "SELECT COUNT(*) FROM $new.mirror_products")"
"$here/import-legacy.sh" "$old" "$new" -- "${args[@]}" >/dev/null

counts="$(db -e "SELECT CONCAT_WS(' ',
  (SELECT COUNT(*) FROM $new.mirror_products), (SELECT COUNT(*) FROM $new.mirror_os),
  (SELECT COUNT(*) FROM $new.mirror_product_langs), (SELECT COUNT(*) FROM $new.mirror_locations),
  (SELECT COUNT(*) FROM $new.mirror_mirrors), (SELECT COUNT(*) FROM $new.mirror_location_mirror_map),
  (SELECT COUNT(*) FROM $new.mirror_aliases), (SELECT COUNT(*) FROM $new.geoip_regions),
  (SELECT COUNT(*) FROM $new.geoip_country_to_region), (SELECT COUNT(*) FROM $new.geoip_mirror_region_map),
  (SELECT COUNT(*) FROM $new.sentry_log))")"
expect "rows kept (products os langs locations mirrors map aliases regions countries mirror-regions log)" \
  "3 3 2 3 2 5 3 3 4 2 2" "$counts"
expect "locations kept" "1,2,3" "$(db -e "SELECT GROUP_CONCAT(id ORDER BY id) FROM $new.mirror_locations")"
expect "NULL map flags take the defaults" "0 1" \
  "$(db -e "SELECT CONCAT_WS(' ', active, healthy) FROM $new.mirror_location_mirror_map WHERE location_id = 2 AND mirror_id = 2")"
expect "fallbacks: existing kept, dangling dropped" "1:NULL 2:1 3:NULL" \
  "$(db -e "SELECT GROUP_CONCAT(CONCAT(id, ':', COALESCE(fallback_id, 'NULL')) ORDER BY id SEPARATOR ' ') FROM $new.geoip_regions")"
expect "country of a missing region has none" "NULL" \
  "$(db -e "SELECT COALESCE(region_id, 'NULL') FROM $new.geoip_country_to_region WHERE country_code = 'XX'")"
expect "enum mirror_active and NULLs of sentry_log" "1:1:100:ok 2:0:0:" \
  "$(db -e "SELECT GROUP_CONCAT(CONCAT_WS(':', mirror_id, mirror_active, mirror_rating, reason) ORDER BY mirror_id SEPARATOR ' ') FROM $new.sentry_log")"
expect "generation bumped" 2 "$(db -e "SELECT value FROM $new.bouncer_generation WHERE name = 'catalogue'")"
expect "audit row written" "import catalogue.import" \
  "$(db -e "SELECT CONCAT_WS(' ', actor, action) FROM $new.bouncer_audit_log")"
if "$here/import-legacy.sh" "$old" "$new" -- "${args[@]}" >/dev/null 2>&1; then
  expect "a second import is refused" refused accepted
else
  expect "a second import is refused" refused refused
fi
expect "the refused import changed nothing" 3 "$(db -e "SELECT COUNT(*) FROM $new.mirror_products")"

# go-bouncer's shape: only the five tables it reads, and a location id used twice.
go="import_selftest_go_$$" gonew="import_selftest_gonew_$$"
trap 'cleanup; db -e "DROP DATABASE IF EXISTS $go; DROP DATABASE IF EXISTS $gonew" || true' EXIT
db -e "CREATE DATABASE $go CHARACTER SET utf8 COLLATE utf8_general_ci; CREATE DATABASE $gonew"
db "$go" <"$here/testdata/gobouncer-schema.sql"
db "$go" <"$here/testdata/gobouncer-data.sql"
BOUNCER_DATABASE__URL="mysql://$user@$host:$port/$gonew" "${tuxedo[@]}" migrate >/dev/null 2>&1
check_out="$("$here/import-legacy.sh" --check "$go" "$gonew" -- "${args[@]}")"
expect "--check names the renumbered location" yes   "$(grep -q "location id shared: gets a new id.*65.*2.*1" <<<"$check_out" && echo yes || echo no)"
expect "--check on five tables changes nothing" 0 "$(db -e "SELECT COUNT(*) FROM $gonew.mirror_locations")"
"$here/import-legacy.sh" "$go" "$gonew" -- "${args[@]}" >/dev/null
expect "five-table import: every location kept" 4 "$(db -e "SELECT COUNT(*) FROM $gonew.mirror_locations")"
expect "the first location of id 65 keeps it" "1:2"   "$(db -e "SELECT CONCAT(product_id, ':', os_id) FROM $gonew.mirror_locations WHERE id = 65")"
expect "the other gets a new id" yes   "$(db -e "SELECT IF(id > 66, 'yes', id) FROM $gonew.mirror_locations WHERE product_id = 2 AND os_id = 1")"
expect "no mirror tables: none imported" "0 0"   "$(db -e "SELECT CONCAT_WS(' ', (SELECT COUNT(*) FROM $gonew.mirror_mirrors), (SELECT COUNT(*) FROM $gonew.geoip_regions))")"
expect "the scratch database is gone" 0   "$(db -e "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '${gonew}_import_scratch'")"
exit "$failures"
