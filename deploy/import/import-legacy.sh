#!/usr/bin/env bash
# Imports an existing Bouncer MySQL database into a Bouncer database (docs/operations.md,
# "Importing an existing Bouncer database"). Both databases are on the same server; the
# new one must be migrated (`tuxedo migrate`) and hold no catalogue yet.
#   import-legacy.sh [--check] OLD_DB NEW_DB [-- MARIADB_CLIENT_ARGS...]
#   e.g. import-legacy.sh bouncer_legacy bouncer -- -h db-master -u admin -p
# --check only lists the rows that would be skipped (orphans.sql) and changes nothing.
# The old database is only read. The copy is one transaction: all or nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

check=false
[ "${1:-}" = --check ] && { check=true; shift; }
[ $# -ge 2 ] || { sed -n '2,9p' "$0" >&2; exit 64; }
src="$1" dst="$2"; shift 2
[ "${1:-}" = -- ] && shift
client=(mariadb "$@")
command -v mariadb >/dev/null || client=(mysql "$@")
for name in "$src" "$dst"; do
  [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || { echo "bad database name '$name'" >&2; exit 64; }
done
[ "$src" != "$dst" ] || { echo "OLD_DB and NEW_DB must differ" >&2; exit 64; }
q() { "${client[@]}" -N -B -e "$1"; }

migrated="$(q "SELECT COUNT(*) FROM information_schema.tables
  WHERE table_schema = '$dst' AND table_name = 'bouncer_generation'")"
[ "$migrated" = 1 ] || { echo "$dst is not a migrated Bouncer database: run \`tuxedo migrate\` on it first" >&2; exit 1; }
legacy="$(q "SELECT COUNT(*) FROM information_schema.tables
  WHERE table_schema = '$src' AND table_name IN ('mirror_products', 'mirror_mirrors', 'mirror_locations')")"
[ "$legacy" = 3 ] || { echo "$src does not look like a Bouncer database" >&2; exit 1; }

tables=(mirror_products mirror_os mirror_product_langs mirror_locations mirror_mirrors
  mirror_location_mirror_map mirror_aliases geoip_regions geoip_country_to_region
  geoip_mirror_region_map sentry_log)
count_rows() {
  local db="$1" sql="" t
  for t in "${tables[@]}"; do sql+="${sql:+ UNION ALL }SELECT '$t', COUNT(*) FROM \`$db\`.\`$t\`"; done
  q "$sql"
}
if ! $check; then
  existing="$(count_rows "$dst" | awk '{ n += $2 } END { print n + 0 }')"
  [ "$existing" = 0 ] || { echo "$dst already holds $existing catalogue rows; import into an empty, migrated database" >&2; exit 1; }
fi

echo "== rows of $src that cannot be imported (none listed = none)"
"${client[@]}" --table "$src" <"$here/orphans.sql"
$check && exit 0

echo "== importing $src into $dst (one transaction)"
sed -e "s/@SRC@/$src/g" -e "s/@DST@/$dst/g" "$here/import.sql" | "${client[@]}"

echo "== rows per table: $src -> $dst"
join <(count_rows "$src" | sort) <(count_rows "$dst" | sort) |
  awk '{ printf "   %-28s %8d -> %8d%s\n", $1, $2, $3, ($2 == $3 ? "" : "   (" $2 - $3 " skipped)") }'
echo "== done; generation bumped. Point database.url at $dst and start the services."
