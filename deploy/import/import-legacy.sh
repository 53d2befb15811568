#!/usr/bin/env bash
# Imports an existing Bouncer MySQL database into a Bouncer database (docs/operations.md,
# "Importing an existing Bouncer database"). Both databases are on the same server; the
# new one must be migrated (`tuxedo migrate`) and hold no catalogue yet.
#   import-legacy.sh [--check] OLD_DB NEW_DB [-- MARIADB_CLIENT_ARGS...]
#   e.g. import-legacy.sh bouncer_legacy bouncer -- -h db-master -u admin -p
# --check only lists the rows that would be skipped or changed (orphans.sql: orphans,
# renumbered locations, merged OSes) and changes nothing (but for a scratch database of
# empty stand-ins for missing optional tables, dropped again).
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
# The five tables go-bouncer and the old admin use are required; the mirror network's
# tables (the original Bouncer's) are optional: today's production has none of them.
required=(mirror_products mirror_os mirror_product_langs mirror_locations mirror_aliases)
optional=(mirror_mirrors mirror_location_mirror_map geoip_regions geoip_country_to_region
  geoip_mirror_region_map sentry_log)
has() { [ "$(q "SELECT COUNT(*) FROM information_schema.tables
  WHERE table_schema = '$src' AND table_name = '$1'")" = 1 ]; }
for t in "${required[@]}"; do
  has "$t" || { echo "$src does not look like a Bouncer database (no table $t)" >&2; exit 1; }
done
# A missing optional table reads as an empty one: an empty stand-in (the new schema's
# shape) in a scratch database, dropped at the end. The old database is only read.
scratch="${dst}_import_scratch"
missing=()
for t in "${optional[@]}"; do has "$t" || missing+=("$t"); done
subst=(-e "s/@DST@/$dst/g")
if ((${#missing[@]})); then
  echo "== $src has no ${missing[*]}: imported as empty"
  trap 'q "DROP DATABASE IF EXISTS \`$scratch\`" || true' EXIT
  q "DROP DATABASE IF EXISTS \`$scratch\`; CREATE DATABASE \`$scratch\`"
  for t in "${missing[@]}"; do
    q "CREATE TABLE \`$scratch\`.\`$t\` LIKE \`$dst\`.\`$t\`"
    subst+=(-e "s/@SRC@\.$t\b/$scratch.$t/g" -e "s/\bFROM $t\b/FROM $scratch.$t/g" -e "s/\bJOIN $t\b/JOIN $scratch.$t/g")
  done
fi
subst+=(-e "s/@SRC@/$src/g")

tables=(mirror_products mirror_os mirror_product_langs mirror_locations mirror_mirrors
  mirror_location_mirror_map mirror_aliases geoip_regions geoip_country_to_region
  geoip_mirror_region_map sentry_log)
count_rows() {
  local db="$1" sql="" t from
  for t in "${tables[@]}"; do
    from="\`$db\`.\`$t\`"
    [ "$db" = "$src" ] && [[ " ${missing[*]} " == *" $t "* ]] && from="\`$scratch\`.\`$t\`"
    sql+="${sql:+ UNION ALL }SELECT '$t', COUNT(*) FROM $from"
  done
  q "$sql"
}
if ! $check; then
  existing="$(count_rows "$dst" | awk '{ n += $2 } END { print n + 0 }')"
  [ "$existing" = 0 ] || { echo "$dst already holds $existing catalogue rows; import into an empty, migrated database" >&2; exit 1; }
fi

echo "== rows of $src the import skips or changes (none listed = none)"
sed "${subst[@]}" "$here/orphans.sql" | "${client[@]}" --table "$src"
$check && exit 0

echo "== importing $src into $dst (one transaction)"
sed "${subst[@]}" "$here/import.sql" | "${client[@]}"

echo "== rows per table: $src -> $dst"
join <(count_rows "$src" | sort) <(count_rows "$dst" | sort) |
  awk '{ printf "   %-28s %8d -> %8d%s\n", $1, $2, $3, ($2 == $3 ? "" : "   (" $2 - $3 " skipped)") }'
echo "== done; generation bumped. Point database.url at $dst and start the services."
