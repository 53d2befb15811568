#!/usr/bin/env bash
# Load benchmark of bounce's cached path, side by side with a static nginx 302 (the
# ceiling), for small and large catalogues. Prints a Markdown table for docs/benchmarks.md.
#   deploy/bench/bounce.sh   (DURATION=5s ROUNDS=3 CONNECTIONS=64 LAYOUTS="shared pinned"
#                             CASES="10x1000 10000x1000 10x100000" by default: mirrors x locations;
#                             BUILD=0: use the release binaries already built)
# nginx and bounce are measured in alternation, ROUNDS times each, and each figure is the
# median of its rounds: this machine's speed drifts between runs, so only runs close in
# time compare.
# Layouts:
#   shared  servers and wrk (2 threads) on every core: the throughput figure;
#   pinned  servers on core 0 (one worker each), wrk (1 thread) on core 1, so the
#           latency figures are not wrk and the server preempting each other.
# Needs wrk, nginx and memcached (installed from Debian's packages if missing). Everything
# runs on 127.0.0.1 and stops by itself.
. "$(dirname "$0")/lib.sh"; bench_init bounce.sh
DURATION="${DURATION:-5s}"; CONNECTIONS="${CONNECTIONS:-64}"; LAYOUTS="${LAYOUTS:-shared pinned}"
ROUNDS="${ROUNDS:-3}"
CASES="${CASES:-10x1000 10000x1000 10x100000}"
bench_install wrk nginx memcached
bench_build -p bounce --bin bounce --example seed_bench
bench_workdir bouncer-bench
bench_memcached 11299 256

metric() { bench_metric 8000 "$1"; }
median() { # lines of "rps p50 p99" → the median of each column
  for col in 1 2 3; do
    printf '%s ' "$(awk -v c="$col" '{ print $c }' "$1" | sed -E 's/us$/ 0.001/; s/ms$/ 1/; s/s$/ 1000/' \
      | awk 'NF == 2 { printf "%.3f\n", $1 * $2; next } { print $1 }' | bench_median)"
  done
  echo
}
run_wrk() { # url-list, base → "rps p50 p99"
  bench_wrk "$1" "$2" -t"$threads" -c"$CONNECTIONS" -d"$DURATION" --latency \
    | awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } END { print rps, p50, p99 }'
}

echo "| layout | case | requests/s | p50 | p99 | vs nginx 302 | DB queries per 1M requests | memcached calls per 1M | RSS after warm-up |"
echo "|---|---|---|---|---|---|---|---|---|"
for layout in $LAYOUTS; do
bench_layout "$layout"
threads=2; workers=$(nproc); [ "$layout" = shared ] || { threads=1; workers=1; }
bench_nginx "$workers"
for case in $CASES; do
  IFS=x read -r mirrors locations <<<"$case"; set -- "$mirrors" "$locations"
  db="$work/bench-$1-$2.db"; urls="$work/urls-$1-$2.txt"; mmdb="$work/geo.mmdb"
  [ -f "$db" ] || bench_seed "$bin" "sqlite://$db" "$1" "$2" "$urls" "$mmdb"
  # Publish the catalogue generation as tuxedo does after a write, so that bounce's watch
  # reads memcached (and the database only every generation_verify_ms), as in production.
  bench_mc_set 127.0.0.1:11299 "bench$1x$2$layout:generation:catalogue" \
    "$(bench_sqlite "$db" "SELECT value FROM bouncer_generation WHERE name = 'catalogue'")"
  BOUNCER_DATABASE__URL="sqlite://$db" BOUNCER_GEOIP__DATABASE="$mmdb" \
  BOUNCER_MEMCACHED__SERVERS='["127.0.0.1:11299"]' BOUNCER_MEMCACHED__PREFIX="bench$1x$2$layout" \
    BOUNCER_BOUNCE__LISTEN=127.0.0.1:8000 BOUNCER_BOUNCE__LOCAL_CACHE_CAPACITY=250000 RUST_LOG=warn "${server[@]}" "$bin/bounce" >"$work/bounce.log" 2>&1 &
  bpid=$!; bench_track "$bpid"
  bench_wait_http http://127.0.0.1:8000/__lbheartbeat__ "$bpid"
  # Warm-up until a pass fills nothing any more (every URL cached), then the steady state.
  prev=-1
  for pass in $(seq 60); do
    BENCH_URLS="$urls" wrk -t2 -c16 -d3s -s "$bench_dir/rotate.lua" http://127.0.0.1:8000 >/dev/null
    fills=$(metric bounce_cache_fills_total)
    [ "$fills" = "$prev" ] && break
    prev=$fills
  done
  echo "warm after $pass passes of 3 s ($fills fills)" >&2
  q0=$(( $(metric bounce_db_queries_total) + $(metric bounce_db_watch_queries_total) )); g0=$(metric 'bounce_memcached_calls_total'); r0=$(metric bounce_requests_total)
  : >"$work/nginx.txt"; : >"$work/bounce.txt"
  for _ in $(seq "$ROUNDS"); do
    run_wrk "$urls" http://127.0.0.1:8090 >>"$work/nginx.txt"
    run_wrk "$urls" http://127.0.0.1:8000 >>"$work/bounce.txt"
  done
  read -r ceiling c50 c99 < <(median "$work/nginx.txt")
  read -r rps p50 p99 < <(median "$work/bounce.txt")
  q1=$(( $(metric bounce_db_queries_total) + $(metric bounce_db_watch_queries_total) )); g1=$(metric 'bounce_memcached_calls_total'); r1=$(metric bounce_requests_total)
  rss="$(awk -v k="$(bench_rss_kib "$bpid")" 'BEGIN { printf "%.0f MiB", k / 1024 }')"
  n=$(( r1 - r0 ))
  awk -v l="$layout" -v c="$1 mirrors, $2 locations" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v ceil="$ceiling" \
      -v q=$(( q1 - q0 )) -v g=$(( g1 - g0 )) -v n="$n" -v rss="$rss" -v c50="$c50" -v c99="$c99" \
      'BEGIN { printf "| %s | %s | %.0f | %.2f ms | %.2f ms | %.0f %% (nginx %.0f/s, p50 %.2f ms, p99 %.2f ms) | %.1f | %.1f | %s |\n", l, c, rps, p50, p99, 100 * rps / ceil, ceil, c50, c99, 1e6 * q / n, 1e6 * g / n, rss }'
  bench_stop "$bpid"
  warnings=$(grep -c WARN "$work/bounce.log" || true)
  [ "$warnings" = 0 ] || { echo "bounce logged $warnings warnings; the first:" >&2; grep -m1 WARN "$work/bounce.log" >&2; }
done
done
