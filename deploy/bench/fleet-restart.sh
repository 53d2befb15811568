#!/usr/bin/env bash
# Fleet restart: how long a starting bounce instance takes to its first redirect, and what
# the load costs the databases, with 100,000 locations (MariaDB + memcached). The first
# instance finds no catalogue image in memcached and loads from the database (storing the
# image); the next ones, started together, take the image and catch up through the change
# log. Prints a Markdown table.
#   deploy/bench/fleet-restart.sh   (LOCATIONS=100000 MIRRORS=2 FOLLOWERS=3
#                                    MYSQL=mysql://root@127.0.0.1:3306 DB=bench_fleet)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
LOCATIONS="${LOCATIONS:-100000}" MIRRORS="${MIRRORS:-2}" FOLLOWERS="${FOLLOWERS:-3}"
MYSQL="${MYSQL:-mysql://root@127.0.0.1:3306}" DB="${DB:-bench_fleet}"
hostport="${MYSQL#*://}"; hostport="${hostport#*@}"
work="$(mktemp -d /tmp/bouncer-fleet.XXXXXX)"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  mariadb --no-defaults -h "${hostport%:*}" -P "${hostport##*:}" -u root -e "DROP DATABASE IF EXISTS $DB" || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "${BUILD:-1}" = 0 ] || cargo build --release --locked -q -p bounce --bin bounce --example seed_bench
bin="${CARGO_TARGET_DIR:-$root/target}/release"
mariadb --no-defaults -h "${hostport%:*}" -P "${hostport##*:}" -u root \
  -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
echo "seeding $MIRRORS mirrors x $LOCATIONS locations" >&2
"$bin/examples/seed_bench" "$MYSQL/$DB" "$MIRRORS" "$LOCATIONS" "$work/urls.txt" "$work/geo.mmdb" >/dev/null
memcached -d -u "$(id -un)" -l 127.0.0.1 -p 11298 -m 256 -P "$work/mc.pid"
sleep 0.3; pids+=("$(cat "$work/mc.pid")")
url="$(head -1 "$work/urls.txt")"

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"({|$)" { s += $2 } END { printf "%d", s }'; }
start() { # port → pid, after the process is started
  BOUNCER_DATABASE__URL="$MYSQL/$DB" BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" \
  BOUNCER_MEMCACHED__SERVERS='["127.0.0.1:11298"]' BOUNCER_MEMCACHED__PREFIX=fleet \
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" RUST_LOG=warn "$bin/bounce" >"$work/bounce-$1.log" 2>&1 &
  pids+=("$!")
}
first_redirect_ms() { # port, start time in ns → ms until the first 302
  local t0="$2"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$url")" = 302 ]; do sleep 0.005; done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
row() { # label port ms
  printf '| %s | %s ms | %s | %s | %s |\n' "$1" "$3" \
    "$(( $(metric "$2" bounce_db_queries_total) + $(metric "$2" bounce_db_watch_queries_total) ))" \
    "$(metric "$2" bounce_catalogue_full_loads_total)" "$(metric "$2" bounce_catalogue_image_loads_total)"
}
echo "| instance | start → first redirect | DB queries for the load | full loads | image loads |"
echo "|---|---|---|---|---|"
t0=$(date +%s%N); start 8200; row "first (no image)" 8200 "$(first_redirect_ms 8200 "$t0")"
t0=$(date +%s%N)
for i in $(seq 1 "$FOLLOWERS"); do start $((8200 + i)); done
for i in $(seq 1 "$FOLLOWERS"); do
  ms="$(first_redirect_ms $((8200 + i)) "$t0")"
  row "follower $i of $FOLLOWERS (started together)" $((8200 + i)) "$ms"
done
echo
echo "Measured $(date -u +%FT%TZ) on $(nproc) CPUs: $MIRRORS mirrors x $LOCATIONS locations, MariaDB at $hostport, memcached."
