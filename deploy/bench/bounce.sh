#!/usr/bin/env bash
# Load benchmark of bounce's cached path, side by side with a static nginx 302 (the
# ceiling), for small and large catalogues. Prints a Markdown table for docs/benchmarks.md.
#   deploy/bench/bounce.sh   (DURATION=5s ROUNDS=3 CONNECTIONS=64 LAYOUTS="shared pinned"
#                             CASES="10x1000 10000x1000 10x100000" by default: mirrors x locations)
# nginx and bounce are measured in alternation, ROUNDS times each, and each figure is the
# median of its rounds: this machine's speed drifts between runs, so only runs close in
# time compare.
# Layouts:
#   shared  servers and wrk (2 threads) on every core: the throughput figure;
#   pinned  servers on core 0 (one worker each), wrk (1 thread) on core 1, so the
#           latency figures are not wrk and the server preempting each other.
# Needs wrk, nginx and memcached (installed from Debian's packages if missing). Everything
# runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
DURATION="${DURATION:-5s}"; CONNECTIONS="${CONNECTIONS:-64}"; LAYOUTS="${LAYOUTS:-shared pinned}"
ROUNDS="${ROUNDS:-3}"
CASES="${CASES:-10x1000 10000x1000 10x100000}"
work="$(mktemp -d /tmp/bouncer-bench.XXXXXX)"
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  stop_nginx
  rm -rf "$work"
}
stop_nginx() {
  if [ -f /tmp/bouncer-bench-nginx.pid ]; then
    kill "$(cat /tmp/bouncer-bench-nginx.pid)" 2>/dev/null || true
    for _ in $(seq 50); do [ -f /tmp/bouncer-bench-nginx.pid ] || break; sleep 0.1; done
  fi
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

metric() { curl -s "http://127.0.0.1:8000/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" && $1 !~ "result=\"(skipped|too_large)\"" { s += $2 } END { printf "%d", s }'; }
median() { # lines of "rps p50 p99" → the median of each column
  for col in 1 2 3; do
    awk -v c="$col" '{ print $c }' "$1" | sed -E 's/us$/ 0.001/; s/ms$/ 1/; s/s$/ 1000/' \
      | awk 'NF == 2 { printf "%.3f\n", $1 * $2; next } { print $1 }' | sort -g \
      | awk '{ v[NR] = $1 } END { printf "%s ", v[int((NR + 1) / 2)] }'
  done
  echo
}
run_wrk() { # url-list, base → "rps p50 p99"
  BENCH_URLS="$1" $client wrk -t"$threads" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$root/deploy/bench/rotate.lua" "$2" \
    | awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } END { print rps, p50, p99 }'
}

echo "| layout | case | requests/s | p50 | p99 | vs nginx 302 | DB queries per 1M requests | memcached calls per 1M | RSS after warm-up |"
echo "|---|---|---|---|---|---|---|---|---|"
for layout in $LAYOUTS; do
case "$layout" in
  shared) server=""; client=""; threads=2; workers=$(nproc) ;;
  pinned) server="taskset -c 0"; client="taskset -c 1"; threads=1; workers=1 ;;
  *) echo "unknown layout $layout" >&2; exit 2 ;;
esac
stop_nginx
$server nginx -c "$root/deploy/bench/nginx-302.conf" -g "worker_processes $workers;"
for case in $CASES; do
  set -- ${case/x/ }
  db="$work/bench-$1-$2.db"; urls="$work/urls-$1-$2.txt"; mmdb="$work/geo.mmdb"
  [ -f "$db" ] || "$bin/examples/seed_bench" "sqlite://$db" "$1" "$2" "$urls" "$mmdb" 2>/dev/null
  # Publish the catalogue generation as tuxedo does after a write, so that bounce's watch
  # reads memcached (and the database only every generation_verify_ms), as in production.
  python3 - "$db" "bench$1x$2$layout:generation:catalogue" <<'PY'
import socket, sqlite3, sys
generation = sqlite3.connect(sys.argv[1]).execute(
    "SELECT value FROM bouncer_generation WHERE name = 'catalogue'").fetchone()[0]
value = str(generation).encode()
with socket.create_connection(("127.0.0.1", 11299)) as s:
    s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (sys.argv[2].encode(), len(value), value))
    assert s.recv(64).startswith(b"STORED"), "memcached did not store the generation"
PY
  BOUNCER_DATABASE__URL="sqlite://$db" BOUNCER_GEOIP__DATABASE="$mmdb" \
  BOUNCER_MEMCACHED__SERVERS='["127.0.0.1:11299"]' BOUNCER_MEMCACHED__PREFIX="bench$1x$2$layout" \
  BOUNCER_BOUNCE__LISTEN=127.0.0.1:8000 BOUNCER_BOUNCE__LOCAL_CACHE_CAPACITY=250000 RUST_LOG=warn $server "$bin/bounce" >"$work/bounce.log" 2>&1 &
  bpid=$!; pids+=("$bpid")
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8000/__lbheartbeat__ >/dev/null && break; sleep 0.1; done
  # Warm-up until a pass fills nothing any more (every URL cached), then the steady state.
  prev=-1
  for pass in $(seq 60); do
    BENCH_URLS="$urls" wrk -t2 -c16 -d3s -s "$root/deploy/bench/rotate.lua" http://127.0.0.1:8000 >/dev/null
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
  rss=$(awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$bpid/status")
  n=$(( r1 - r0 ))
  awk -v l="$layout" -v c="$1 mirrors, $2 locations" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v ceil="$ceiling" \
      -v q=$(( q1 - q0 )) -v g=$(( g1 - g0 )) -v n="$n" -v rss="$rss" -v c50="$c50" -v c99="$c99" \
      'BEGIN { printf "| %s | %s | %.0f | %.2f ms | %.2f ms | %.0f %% (nginx %.0f/s, p50 %.2f ms, p99 %.2f ms) | %.1f | %.1f | %s |\n", l, c, rps, p50, p99, 100 * rps / ceil, ceil, c50, c99, 1e6 * q / n, 1e6 * g / n, rss }'
  kill "$bpid"; wait "$bpid" 2>/dev/null || true
  warnings=$(grep -c WARN "$work/bounce.log" || true)
  [ "$warnings" = 0 ] || { echo "bounce logged $warnings warnings; the first:" >&2; grep -m1 WARN "$work/bounce.log" >&2; }
done
done
