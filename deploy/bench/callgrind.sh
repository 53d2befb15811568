#!/usr/bin/env bash
# Instructions per redirect, counted by callgrind: repeatable for the same binary and
# inputs whatever else the machine does, so it settles what load runs on a drifting
# machine cannot (docs/benchmarks.md, "hot path").
#
#   deploy/bench/callgrind.sh [BIN_DIR] [TAG]     # BIN_DIR: release dir with bounce and
#                                                 # examples/seed_bench (default: this build)
# Settings (environment): MIRRORS=50 LOCATIONS=1000 WARM=20000 COUNT=20000 FILES=1
#   MYSQL=mysql://root@127.0.0.1:3306 DB=bench_callgrind (created and dropped)
#   CACHE_SIM=0 (1: also simulate the caches; the annotation then counts I1/D1/LL misses)
#   OUT=/tmp/bouncer-callgrind   where callgrind.<TAG>.out and the annotation are kept
#   Other BOUNCER_* variables pass through to bounce (to switch a feature off, say).
#
# One bounce (MariaDB + memcached, as in production) runs under `valgrind --tool=callgrind`;
# a keep-alive client sends WARM requests rotating over every location on each of 4
# connections (so every worker thread is warm), the counters are
# zeroed (`callgrind_control -z`), COUNT more requests are sent, and the counters are
# dumped (`-d`). FILES=1 gives every location a bouncer_files row per language the URLs ask for,
# so redirects carry the digest headers. Prints "TAG instructions-per-request"; the
# annotation (functions by inclusive cost) is in $OUT/TAG.txt.
. "$(dirname "$0")/lib.sh"; bench_init callgrind.sh
bin="${1:-${CARGO_TARGET_DIR:-$root/target}/release}"
TAG="${2:-$(git rev-parse --short HEAD 2>/dev/null || echo build)}"
MIRRORS="${MIRRORS:-50}"; LOCATIONS="${LOCATIONS:-1000}"
WARM="${WARM:-20000}"; COUNT="${COUNT:-20000}"; FILES="${FILES:-1}"
DB="${DB:-bench_callgrind}"
OUT="${OUT:-/tmp/bouncer-callgrind}"
PORT=8110 MC_PORT=11298
bench_require valgrind callgrind_control callgrind_annotate memcached mariadb python3 curl
bench_need_bins bounce examples/seed_bench
bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"
mkdir -p "$OUT"
bench_workdir bouncer-callgrind
bench_fail_logs=("$work/bounce.log")

bench_fresh_db "$DB"
bench_seed "$bin" "$db_url" "$MIRRORS" "$LOCATIONS" "$work/urls.txt" "$work/geo.mmdb"
[ "$FILES" != 1 ] || bench_files "$DB" || true  # older builds have no bouncer_files
bench_memcached "$MC_PORT"

out="$OUT/callgrind.$TAG.out"
rm -f "$out"*
BOUNCER_DATABASE__URL="$db_url" BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$MC_PORT\"]" \
BOUNCER_MEMCACHED__PREFIX="cg$RANDOM" BOUNCER_BOUNCE__LISTEN="127.0.0.1:$PORT" \
BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" RUST_LOG="${RUST_LOG:-warn}" \
  valgrind --tool=callgrind --cache-sim="$([ "${CACHE_SIM:-0}" = 1 ] && echo yes || echo no)" --callgrind-out-file="$out" \
  "$bin/bounce" serve >"$work/bounce.log" 2>&1 &
bounce_pid=$!; bench_track "$bounce_pid"
bench_wait_http "http://127.0.0.1:$PORT/__lbheartbeat__" "$bounce_pid" 1200  # valgrind starts slowly

client() { # count connections → sends them rotating over the connections (keep-alive);
           # fails on any answer but 302. Warm-up uses several connections, so that every
           # worker thread (each keeps its own Link values) has seen every URL.
  python3 - "$PORT" "$work/urls.txt" "$1" "$2" <<'PY'
import http.client, sys
port, urls, n, k = int(sys.argv[1]), open(sys.argv[2]).read().split(), int(sys.argv[3]), int(sys.argv[4])
cs = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(k)]
for i in range(n):
    c = cs[i % k]
    c.request("GET", urls[(i // k) % len(urls)])
    r = c.getresponse()
    r.read()
    if r.status != 302:
        sys.exit(f"answer {r.status} for {urls[(i // k) % len(urls)]}")
PY
}
client "$((WARM * 4))" 4
callgrind_control -z "$bounce_pid" >/dev/null 2>&1
client "$COUNT" 1
callgrind_control -d "$bounce_pid" >/dev/null 2>&1
dump="$(find "$OUT" -maxdepth 1 -name "callgrind.$TAG.out.*" -printf '%T@ %p\n' | sort -rn | head -n1 | cut -d' ' -f2-)"
callgrind_annotate --inclusive=yes --threshold=99.9 "$dump" >"$OUT/$TAG.txt" 2>/dev/null
total="$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$OUT/$TAG.txt")"
echo "$TAG $((total / COUNT))"
