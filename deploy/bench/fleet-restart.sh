#!/usr/bin/env bash
# Fleet restart: how long a starting bounce instance takes to its first redirect, and what
# the load costs the databases, with 100,000 locations (MariaDB + memcached). The first
# instance finds no catalogue image in memcached and loads from the database (storing the
# image); the next ones, started together, take the image and catch up through the change
# log. Prints a Markdown table.
#   deploy/bench/fleet-restart.sh   (LOCATIONS=100000 MIRRORS=2 FOLLOWERS=3
#                                    MYSQL=mysql://root@127.0.0.1:3306 DB=bench_fleet)
. "$(dirname "$0")/lib.sh"; bench_init fleet-restart.sh
LOCATIONS="${LOCATIONS:-100000}" MIRRORS="${MIRRORS:-2}" FOLLOWERS="${FOLLOWERS:-3}" DB="${DB:-bench_fleet}"
bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"
bench_build -p bounce --bin bounce --example seed_bench
bench_workdir bouncer-fleet
bench_fresh_db "$DB"
echo "seeding $MIRRORS mirrors x $LOCATIONS locations" >&2
bench_seed "$bin" "$db_url" "$MIRRORS" "$LOCATIONS" "$work/urls.txt" "$work/geo.mmdb"
bench_memcached 11298 256
url="$(head -1 "$work/urls.txt")"

start() { # port, after the process is started
  BOUNCER_DATABASE__URL="$db_url" BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" \
  BOUNCER_MEMCACHED__SERVERS='["127.0.0.1:11298"]' BOUNCER_MEMCACHED__PREFIX=fleet \
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" RUST_LOG=warn "$bin/bounce" >"$work/bounce-$1.log" 2>&1 &
  bench_track $!
}
first_redirect_ms() { # port, start time in ns → ms until the first 302
  local t0="$2"
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$url")" = 302 ]; do sleep 0.005; done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}
row() { # label port ms
  printf '| %s | %s ms | %s | %s | %s |\n' "$1" "$3" \
    "$(( $(bench_metric "$2" bounce_db_queries_total) + $(bench_metric "$2" bounce_db_watch_queries_total) ))" \
    "$(bench_metric "$2" bounce_catalogue_full_loads_total)" "$(bench_metric "$2" bounce_catalogue_image_loads_total)"
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
echo "Measured $(date -u +%FT%TZ) on $(nproc) CPUs: $MIRRORS mirrors x $LOCATIONS locations, MariaDB at $my_host:$my_port, memcached."
