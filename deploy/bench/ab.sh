#!/usr/bin/env bash
# Two bounce builds side by side under load, in alternating rounds: CPU µs per request
# from /proc (user + system of the bounce process over the run / requests wrk completed),
# which is steadier on a drifting machine than requests per second.
#
#   deploy/bench/ab.sh BIN_DIR_A BIN_DIR_B [ROUNDS]   # release dirs with bounce and
#                                                      # examples/seed_bench
# Settings (environment): MIRRORS=50 LOCATIONS=1000 FILES=1 DURATION=10 WARMUP=4
#   PERF_DIR= (a directory: each measured run is also sampled by `perf record -e cpu-clock -g`
#   into PERF_DIR/a-1.data …, for `perf report`; software clock, so it works without a PMU)
#   ENV_A= ENV_B= (extra VAR=value words for one build's bounce, e.g. to switch a feature
#   off: ENV_B="BOUNCER_BOUNCE__DIGEST_HEADERS=false")
#   SQL_A= SQL_B= (a file of SQL applied to that build's database after seeding, e.g. one
#   catalogue against another with the same binary: see deploy/bench/networks.sh)
#   SUFFIX= (appended to every request's query, e.g. "&format=meta4")  CONNECTIONS=32 PIN=0 (1: bounce on core 0, wrk on core 1) MYSQL=mysql://root@127.0.0.1:3306 (databases bench_ab_a, bench_ab_b:
#   created and dropped; each build seeds its own with its own migrations)
#
# Each build: MariaDB + its own memcached, one bounce, one wrk thread rotating over every
# location (rotate.lua). Prints one line per run ("a 1 25.21 user 12.4 sys 12.8 rps ...")
# and the medians.
. "$(dirname "$0")/lib.sh"; bench_init ab.sh
A="${1:?usage: ab.sh BIN_DIR_A BIN_DIR_B [ROUNDS]}"; B="${2:?usage: ab.sh BIN_DIR_A BIN_DIR_B [ROUNDS]}"
ROUNDS="${3:-5}"
MIRRORS="${MIRRORS:-50}"; LOCATIONS="${LOCATIONS:-1000}"; FILES="${FILES:-1}"
DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-4}"; CONNECTIONS="${CONNECTIONS:-32}"
bench_require wrk memcached mariadb curl
[ -z "${PERF_DIR:-}" ] || bench_require perf
bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"
tick="$(getconf CLK_TCK)"
[ "${PIN:-0}" != 1 ] || bench_layout pinned
bench_workdir bouncer-ab
bench_fail_logs=("$work/bounce-*.log")

start() { # name bin port mc_port → pid in $started
  local x="$1" bin="$2" port="$3" mc="$4" extra extra_sql
  extra="$([ "$x" = a ] && echo "${ENV_A:-}" || echo "${ENV_B:-}")"
  bench_fresh_db "bench_ab_$x"
  bench_seed "$bin" "$db_url" "$MIRRORS" "$LOCATIONS" "$work/urls-$x.txt" "$work/geo-$x.mmdb"
  [ "$FILES" != 1 ] || bench_files "bench_ab_$x" || true  # older builds have no bouncer_files
  extra_sql="$([ "$x" = a ] && echo "${SQL_A:-}" || echo "${SQL_B:-}")"
  if [ -n "$extra_sql" ]; then sql "bench_ab_$x" <"$extra_sql"; fi
  if [ -n "${SUFFIX:-}" ]; then
    awk -v s="$SUFFIX" '{ print $0 s }' "$work/urls-$x.txt" >"$work/urls-$x.tmp"
    mv "$work/urls-$x.tmp" "$work/urls-$x.txt"
  fi
  bench_memcached "$mc"
  # shellcheck disable=SC2086 # ENV_A/ENV_B are VAR=value words
  BOUNCER_DATABASE__URL="$db_url" BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$mc\"]" \
  BOUNCER_MEMCACHED__PREFIX="ab$x" BOUNCER_BOUNCE__LISTEN="127.0.0.1:$port" \
  BOUNCER_GEOIP__DATABASE="$work/geo-$x.mmdb" RUST_LOG=warn \
    "${server[@]}" env $extra "$bin/bounce" serve >"$work/bounce-$x.log" 2>&1 &
  started=$!
  bench_track "$started"
  bench_wait_http "http://127.0.0.1:$port/__lbheartbeat__" "$started"
}
run() { # name pid port → one result line
  local x="$1" pid="$2" port="$3" before after out
  bench_wrk "$work/urls-$x.txt" "http://127.0.0.1:$port" -t1 -c"$CONNECTIONS" -d"${WARMUP}s" >/dev/null
  local perf=""
  if [ -n "${PERF_DIR:-}" ]; then
    perf record -q -e cpu-clock -F 1999 -g -o "$PERF_DIR/$x-$round.data" -p "$pid" 2>/dev/null &
    perf=$!
  fi
  before="$(bench_cpu "$pid")"
  out="$(bench_wrk "$work/urls-$x.txt" "http://127.0.0.1:$port" -t1 -c"$CONNECTIONS" -d"${DURATION}s")"
  after="$(bench_cpu "$pid")"
  if [ -n "$perf" ]; then kill -INT "$perf" 2>/dev/null || true; wait "$perf" || true; fi
  local requests rps non2xx
  requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
  rps="$(awk '/Requests\/sec/ { print $2 }' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx/ { print $5 }' <<<"$out")"
  awk -v b="$before" -v a="$after" -v n="$requests" -v t="$tick" -v x="$x" -v r="$round" -v rps="$rps" -v bad="${non2xx:-0}" 'BEGIN {
    split(b, B, " "); split(a, A, " ")
    printf "%s %d %.2f user %.2f sys %.2f rps %s non-3xx %s\n", x, r,
      (A[1] - B[1]) / t * 1e6 / n, (A[2] - B[2]) / t * 1e6 / n, (A[3] - B[3]) / t * 1e6 / n, rps, bad }'
}

start a "$A" 8120 11296; a_pid="$started"
start b "$B" 8121 11297; b_pid="$started"
# The seeded URLs answer 302: anything else means a broken setup, not a figure.
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:8120$(head -n1 "$work/urls-a.txt")")"
want=302; [ -z "${SUFFIX:-}" ] || want=200  # a document (format=…) answers 200
[ "$code" = "$want" ] || die "build a answers $code"
echo "a = $A ${ENV_A:-} ${SQL_A:-}, b = $B ${ENV_B:-} ${SQL_B:-}, suffix ${SUFFIX:-none}, $ROUNDS rounds of ${DURATION}s, $(nproc) cores, $(date -u +%FT%TZ)"
results="$work/results"
for round in $(seq "$ROUNDS"); do
  run a "$a_pid" 8120 | tee -a "$results"
  run b "$b_pid" 8121 | tee -a "$results"
done
for x in a b; do  # in-process fills: a run that keeps filling measures the fills
  port=$([ "$x" = a ] && echo 8120 || echo 8121)
  echo "$x: $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^bounce_cache_fills_total/ { printf "%s ", $0 }')"
done
for x in a b; do
  awk -v x="$x" '$1 == x { print $3 }' "$results" | bench_median \
    | awk -v x="$x" -v n="$ROUNDS" '{ printf "median %s %.2f µs per request (%d runs)\n", x, $1, n }'
done
