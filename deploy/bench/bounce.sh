#!/usr/bin/env bash
# Load benchmark of bounce's cached path, side by side with a static nginx 302 (the
# ceiling), for small and large catalogues. Prints a Markdown table for docs/benchmarks.md.
#   deploy/bench/bounce.sh            (DURATION=10s CONNECTIONS=64 THREADS=2 by default)
# Needs wrk, nginx and memcached (installed from Debian's packages if missing). Everything
# runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
DURATION="${DURATION:-10s}"; CONNECTIONS="${CONNECTIONS:-64}"; THREADS="${THREADS:-2}"
work="$(mktemp -d /tmp/bouncer-bench.XXXXXX)"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  [ -f /tmp/bouncer-bench-nginx.pid ] && kill "$(cat /tmp/bouncer-bench-nginx.pid)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

missing=()
for cmd in wrk nginx memcached; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]/nginx/nginx-light}" >/dev/null
fi
cargo build --release --locked -q -p bounce --bin bounce --example seed_bench
bin="${CARGO_TARGET_DIR:-$root/target}/release"

memcached -d -u "$(id -un)" -l 127.0.0.1 -p 11299 -m 256 -P "$work/memcached.pid"
pids+=("$(sleep 0.2; cat "$work/memcached.pid")")
nginx -c "$root/deploy/bench/nginx-302.conf"

metric() { curl -s "http://127.0.0.1:8000/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" && $1 !~ "result=\"(skipped|too_large)\"" { s += $2 } END { printf "%d", s }'; }
run_wrk() { # url-list, base → "rps p50 p99"
  BENCH_URLS="$1" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$root/deploy/bench/rotate.lua" "$2" \
    | awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } END { print rps, p50, p99 }'
}

echo "| case | requests/s | p50 | p99 | vs nginx 302 | DB queries per 1M requests | memcached gets per 1M | RSS after warm-up |"
echo "|---|---|---|---|---|---|---|---|"
for case in "10 1000" "10000 1000" "10 100000"; do
  set -- $case
  db="$work/bench-$1-$2.db"; urls="$work/urls-$1-$2.txt"; mmdb="$work/geo.mmdb"
  "$bin/examples/seed_bench" "sqlite://$db" "$1" "$2" "$urls" "$mmdb" 2>/dev/null
  BOUNCER_DATABASE__URL="sqlite://$db" BOUNCER_GEOIP__DATABASE="$mmdb" \
  BOUNCER_MEMCACHED__SERVERS='["127.0.0.1:11299"]' BOUNCER_MEMCACHED__PREFIX="bench$1x$2" \
  BOUNCER_BOUNCE__LISTEN=127.0.0.1:8000 BOUNCER_BOUNCE__LOCAL_CACHE_CAPACITY=250000 RUST_LOG=warn "$bin/bounce" >"$work/bounce.log" 2>&1 &
  bpid=$!; pids+=("$bpid")
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8000/__lbheartbeat__ >/dev/null && break; sleep 0.1; done
  # Warm-up until a pass fills nothing any more (every URL cached), then the steady state.
  prev=-1
  while :; do
    BENCH_URLS="$urls" wrk -t2 -c16 -d3s -s "$root/deploy/bench/rotate.lua" http://127.0.0.1:8000 >/dev/null
    fills=$(metric bounce_cache_fills_total)
    [ "$fills" = "$prev" ] && break
    prev=$fills
  done
  q0=$(metric bounce_db_queries_total); g0=$(metric 'bounce_memcached_calls'); r0=$(metric bounce_requests_total)
  read -r ceiling c50 c99 < <(run_wrk "$urls" http://127.0.0.1:8090)
  read -r rps p50 p99 < <(run_wrk "$urls" http://127.0.0.1:8000)
  q1=$(metric bounce_db_queries_total); g1=$(metric 'bounce_memcached_calls'); r1=$(metric bounce_requests_total)
  rss=$(awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$bpid/status")
  n=$(( r1 - r0 ))
  awk -v c="$1 mirrors, $2 locations" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v ceil="$ceiling" \
      -v q=$(( q1 - q0 )) -v g=$(( g1 - g0 )) -v n="$n" -v rss="$rss" -v c50="$c50" -v c99="$c99" \
      'BEGIN { printf "| %s | %.0f | %s | %s | %.0f %% (nginx %.0f/s, p50 %s, p99 %s) | %.1f | %.1f | %s |\n", c, rps, p50, p99, 100 * rps / ceil, ceil, c50, c99, 1e6 * q / n, 1e6 * g / n, rss }'
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
done
