#!/usr/bin/env bash
# Download statistics (issue 31): what counting costs a redirect, and whether every download
# wrk received is stored exactly once, under load, with the catalogue written meanwhile, a
# receiver outage, a SIGTERM and a kill -9 of a bounce instance, and whether a flood of
# unknown names costs memory or queries. Progress on stderr, Markdown tables on stdout.
#
#   deploy/bench/stats.sh > table.md                                       # about 15 minutes
#   BUILD=0 DURATION=5 ROUNDS=2 RECEIVER_DOWN=10 DURATION_KILL=8 UNKNOWN_REQUESTS=100000 \
#     deploy/bench/stats.sh                                               # short, 6 minutes
#   BUILD=0 PHASES=cpu ROUNDS=10 deploy/bench/stats.sh                     # the CPU figure alone
#
# Settings (environment):
#   DURATION=15         seconds per round of the CPU comparison
#   ROUNDS=5            alternating rounds (statistics off, then on); figures are medians
#   RECEIVER_DOWN=60    seconds tuxedo is down (killed) while the load goes on
#   DURATION_KILL=20    seconds of each of the SIGTERM and kill -9 runs (the signal at half)
#   UNKNOWN_REQUESTS=1000000   requests for random unknown names (A and B together)
#   STATS_DRAIN=5       bounce.stats_drain_secs of the counting instances (the default)
#   CONNECTIONS=64      wrk connections in total (half per instance)
#   MIRRORS=50 LOCATIONS=1000   catalogue (seed_bench: every mirror serves every location)
#   MYSQL=mysql://root@127.0.0.1:3306  DB=bench_stats (created and dropped)
#   BUILD=1             0: use the binaries already in $CARGO_TARGET_DIR/release
#   KEEP=DIR            copy the JSON lines, wrk outputs, logs and final /metrics there
#   PHASES="cpu down term kill9 unknown"   which of the phases below to run (in this order)
#
# Topology, all on 127.0.0.1, as release-day.sh's: MariaDB (database $DB), our own
# memcached (:11295), tuxedo (:8144, the statistics' receiver), and four bounce instances
# with the fleet on (fleet.token on all; fleet.tuxedo_urls = tuxedo): A and B (:8142,
# :8143) count (bounce.stats_drain_secs = STATS_DRAIN), A0 and B0 (:8140, :8141) do not
# (stats_drain_secs = 0), everything else the same. Each mirror's base URL has a host of its
# own (http://m<j>.stats.test/pub), so the Location host names the mirror. While the load
# runs (every phase but the last), a writer PATCHes one location path a second through
# tuxedo's JSON API (release-day.sh's case (a)); with the fleet on, each write waits until
# every live instance serves it.
#
# Load: two wrk processes (1 thread, CONNECTIONS/2 connections each), one per instance of a
# pair, rotating over one URL per location (stats.lua, which also counts what it receives:
# every 302 per Location host and product). A download is a GET answered 302 (only GETs
# are sent). A load ends with a tail: the wrk processes switch to unknown names (404s, not
# counted) and are stopped (SIGINT) a second later, so no download bounce counted is in
# flight when wrk stops reading. Phases:
#   1. CPU: ROUNDS x (pair A0+B0 off, pair A+B on), DURATION s each; CPU µs per redirect =
#      utime + stime of the pair (/proc/PID/stat) over the DURATION s (read before the
#      tail) / 302s wrk received; tuxedo's and mariadbd's CPU per redirect apart. Also
#      each pair's CPU over the whole phase (its idle rounds and the final drain included:
#      shipping lags behind, so part of an on round's batches leave during the next off
#      round) / its 302s. The on rounds are also the first exactness case.
#   2. Exactness: after a phase's load, the script waits until the counting instances have
#      sent everything (a drain interval, then bounce_stats_waiting_counts = 0 on each and
#      tuxedo_stats_downloads_total still), then compares what wrk received with the growth
#      of bouncer_download_counts (day rows; minute and hour rows' totals alongside) per
#      product and per target (a mirror's id, from the Location host via mirror_mirrors).
#   3. Receiver down: load on A+B; after 5 s tuxedo is killed (-9); RECEIVER_DOWN s later it
#      is started again on the same port; the load goes on 10 s more.
#   4. SIGTERM: load on A+B; at half of DURATION_KILL A gets SIGTERM (it sends what is left
#      before it exits); its wrk is stopped once it has exited. Must be exact.
#   5. kill -9: the same with SIGKILL. Loss = received - stored; reported against one drain
#      interval of A's downloads (A's downloads / seconds A was loaded x STATS_DRAIN).
#      A is started again after 4 and 5.
#   6. Unknown names: UNKNOWN_REQUESTS random unknown product names against A+B (no
#      writes): RSS before, max (sampled every second) and after, the largest
#      bounce_stats_waiting_counts seen, bounce_db_queries_total (request path) and
#      bounce_db_watch_queries_total (the generation watch's periodic reads) apart,
#      memcached calls, and stored downloads (must be 0: 404s are not counted).
. "$(dirname "$0")/lib.sh"; bench_init stats
die() { say "ERROR: $*"; exit 1; }
secs() { local v="${1%s}"; [[ "$v" =~ ^[0-9]+$ ]] || { echo "not a number of seconds: $1" >&2; exit 2; }; echo "$v"; }
DURATION="$(secs "${DURATION:-15}")"; ROUNDS="${ROUNDS:-5}"
RECEIVER_DOWN="$(secs "${RECEIVER_DOWN:-60}")"; DURATION_KILL="$(secs "${DURATION_KILL:-20}")"
UNKNOWN_REQUESTS="${UNKNOWN_REQUESTS:-1000000}"; STATS_DRAIN="$(secs "${STATS_DRAIN:-5}")"
CONNECTIONS="${CONNECTIONS:-64}"; MIRRORS="${MIRRORS:-50}"; LOCATIONS="${LOCATIONS:-1000}"
DB="${DB:-bench_stats}"; PHASES="${PHASES:-cpu down term kill9 unknown}"
MC_PORT=11295 A0_PORT=8140 B0_PORT=8141 A_PORT=8142 B_PORT=8143 TUX_PORT=8144
PREFIX="benchstats$$"
LOG="warn,actix_http::h1=off"
helper="$bench_dir/stats_bench.py"
lua="$bench_dir/stats.lua"
[ "$STATS_DRAIN" -ge 1 ] || die "STATS_DRAIN must be at least 1"
want() { [[ " $PHASES " == *" $1 "* ]]; }
for p in $PHASES; do [[ " cpu down term kill9 unknown " == *" $p "* ]] || die "unknown phase $p"; done

bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"
bench_install wrk memcached
bench_require wrk memcached mariadb python3 curl
sql -e 'SELECT 1' >/dev/null 2>&1 || die "MariaDB does not answer at $my_url (start it: service mariadb start)"
bench_ports_free $MC_PORT $A0_PORT $B0_PORT $A_PORT $B_PORT $TUX_PORT

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bouncer/target}"
bench_build -p bounce -p tuxedo --bins --example seed_bench
bench_need_bins bounce tuxedo examples/seed_bench

bench_workdir bouncer-stats
bench_fail_logs=("$work/*.log")
results="$work/results.jsonl"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
started_at="$(date -u +%FT%TZ)"

say "database $DB, memcached :$MC_PORT, seeding $MIRRORS mirrors x $LOCATIONS locations"
bench_fresh_db "$DB"
bench_memcached "$MC_PORT" 256
urls="$work/urls.txt"
bench_seed "$bin" "$db_url" "$MIRRORS" "$LOCATIONS" "$urls" "$work/geo.mmdb" "http://m{}.stats.test/pub"
sql "$DB" -e 'SELECT id, baseurl FROM mirror_mirrors' >"$work/mirrors.tsv"

fleet_token="bench-stats-fleet-$RANDOM$RANDOM$RANDOM-token"
export BOUNCER_DATABASE__URL="$db_url" BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$MC_PORT\"]"
export BOUNCER_MEMCACHED__PREFIX="$PREFIX" BOUNCER_FLEET__TOKEN="$fleet_token"
echo "stats-bench-$RANDOM$RANDOM-pw" | RUST_LOG="$LOG" "$bin/tuxedo" user add releng --role release >"$work/cli.log" 2>&1 \
  || die "tuxedo user add failed: $(cat "$work/cli.log")"
token="$(RUST_LOG="$LOG" "$bin/tuxedo" token add --user releng --role release --name stats-bench 2>>"$work/cli.log" | grep -E '^bnct_' | tail -n1)"
[ -n "$token" ] || die "tuxedo token add printed no token: $(cat "$work/cli.log")"

# Each start sets $started (the process is a child of this shell, so it can be waited for).
start_tuxedo() {
  BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX_PORT" BOUNCER_TUXEDO__GATE_CHECK_SECS=0 RUST_LOG="$LOG" \
    "$bin/tuxedo" serve >>"$work/tuxedo.log" 2>&1 &
  started=$!; bench_track "$started"
  bench_wait_http "http://127.0.0.1:$TUX_PORT/__lbheartbeat__" "$started" 100
}
start_bounce() { # port drain_secs
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" BOUNCER_BOUNCE__STATS_DRAIN_SECS="$2" \
  BOUNCER_FLEET__TUXEDO_URLS="[\"http://127.0.0.1:$TUX_PORT\"]" BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" \
  BOUNCER_BOUNCE__FALLBACK_BASE_URL="https://fallback.example/pub" RUST_LOG="$LOG" \
    "$bin/bounce" serve >>"$work/bounce-$1.log" 2>&1 &
  started=$!; bench_track "$started"
  bench_wait_http "http://127.0.0.1:$1/__lbheartbeat__" "$started" 100
}
start_tuxedo; tux_pid="$started"
# mariadbd's CPU is reported apart (it may serve others too); found by its listening port.
db_pid="$(ss -Hltnp "sport = :$my_port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
ports=()
if want cpu; then
  start_bounce $A0_PORT 0; a0_pid="$started"
  start_bounce $B0_PORT 0; b0_pid="$started"
  ports=("$A0_PORT" "$B0_PORT")
fi
start_bounce $A_PORT "$STATS_DRAIN"; a_pid="$started"
start_bounce $B_PORT "$STATS_DRAIN"; b_pid="$started"
ports+=("$A_PORT" "$B_PORT")
bench_wait_registered "$DB" ${#ports[@]}
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A_PORT$(head -n1 "$urls")")"
[ "$code" = 302 ] || die "bounce A answers $code for a seeded URL"

say "warming ${#ports[@]} instances"
python3 "$bench_dir/release_day.py" warm --bounce "$(IFS=,; echo "${ports[*]}")" --urls "$urls" --script "$bench_dir/rotate.lua"

# ---------------------------------------------------------------- helpers

metric() { bench_metric "$@"; }
# The sum of the series of metric NAME at PORT whose labels contain LABEL (e.g. outcome="failed").
metric_where() { # port name label
  curl -s "http://127.0.0.1:$1/metrics" \
    | awk -v m="$2{" -v l="$3" 'index($1, m) == 1 && index($1, l) { s += $2 } END { printf "%d", s }'
}
cpu_ticks() { local p s=0; for p in "$@"; do s=$((s + $(bench_cpu "$p" | cut -d' ' -f1))); done; echo "$s"; }
rss_mib() { echo $(( $(bench_rss_kib "$1") / 1024 )); }

# Waits until the counting instances on PORTS have sent everything they counted:
# bounce_stats_waiting_counts 0 on each and the stored total (day rows) unchanged for
# `window` seconds (longer than two drain intervals and than one batch can take: tuxedo
# answers 503 after 5 s). The gauge alone is not enough: it is set at the end of a round,
# and a round sends its batches one after another (tens of them here). Sets drain_s: the
# seconds from the call (the load's end) to the last change of the total. Warns (the
# comparison then shows it) after 600 s.
drained() {
  local port w total prev="" t0 last window=$((2 * STATS_DRAIN + 2))
  [ "$window" -ge 15 ] || window=15
  t0="$(date +%s)"; last=$t0
  for _ in $(seq 600); do
    w=0
    for port in "$@"; do w=$((w + $(metric "$port" bounce_stats_waiting_counts))); done
    total="$(sql "$DB" -e "SELECT COALESCE(SUM(downloads), 0) FROM bouncer_download_counts WHERE granularity = 'd'")"
    [ "$total" = "$prev" ] || last="$(date +%s)"
    prev="$total"
    if [ "$w" = 0 ] && [ $(($(date +%s) - last)) -ge "$window" ]; then
      drain_s=$((last - t0))
      return 0
    fi
    sleep 1
  done
  drain_s=$((last - t0))
  say "WARNING: counts still waiting after 600 s ($w counts)"
}
snapshot() { # file
  sql "$DB" -e "SELECT granularity, product, target, SUM(downloads) FROM bouncer_download_counts
                GROUP BY granularity, product, target" >"$1"
}
# wrk in the background against PORT (stats.lua), output in FILE, until end_load or
# interrupt stops it; sets $wrk_pid.
load() { # port file [mode]
  BENCH_URLS="$urls" BENCH_MODE="${3:-rotate}" BENCH_TAIL="$work/tail" wrk -t1 -c$((CONNECTIONS / 2)) -d3600 \
    -s "$lua" "http://127.0.0.1:$1" >"$2" 2>&1 &
  wrk_pid=$!; bench_track "$wrk_pid"
}
finish() { # wrk pids: waits for them
  local p
  for p in "$@"; do wait "$p" || die "wrk failed"; bench_untrack "$p"; done
}
# Stops a wrk early (SIGINT: it prints its results and stats.lua's counts).
interrupt() { kill -INT "$1" 2>/dev/null || true; finish "$1"; }
# Ends a load without a download in flight: the wrk processes switch to unknown names
# (stats.lua's BENCH_TAIL), and are stopped a second later.
end_load() { # wrk pids
  local p
  touch "$work/tail"
  sleep 1
  for p in "$@"; do interrupt "$p"; done
  rm -f "$work/tail"
}
record() { python3 "$helper" record --out "$results" --mirrors "$work/mirrors.tsv" "$@"; }

writer_n=0
writer_start() {
  writer_n=$((writer_n + 1))
  python3 "$helper" writer --tuxedo $TUX_PORT --token "$token" --locations "$LOCATIONS" \
    --out "$work/writer-$writer_n.json" &
  writer_pid=$!; bench_track "$writer_pid"
}
writer_stop() {
  bench_stop "$writer_pid"
  say "writes: $(cat "$work/writer-$writer_n.json" 2>/dev/null)"
}

# The snapshot the next phase compares with (taken once everything counted so far is stored).
drained $A_PORT $B_PORT
snapshot "$work/snap-start.tsv"
before="$work/snap-start.tsv"

# ---------------------------------------------------------------- 1. CPU, off vs on

if want cpu; then
writer_start
on_files=() off_files=()
off_t0="$(cpu_ticks "$a0_pid" "$b0_pid")"; on_t0="$(cpu_ticks "$a_pid" "$b_pid")"
for r in $(seq "$ROUNDS"); do
  for mode in off on; do
    if [ "$mode" = off ]; then pa=$A0_PORT pb=$B0_PORT pids=("$a0_pid" "$b0_pid")
    else pa=$A_PORT pb=$B_PORT pids=("$a_pid" "$b_pid"); fi
    say "CPU round $r/$ROUNDS, statistics $mode (${DURATION} s)"
    c0="$(cpu_ticks "${pids[@]}")"; x0="$(cpu_ticks "$tux_pid")"; d0="$(cpu_ticks ${db_pid:+"$db_pid"})"
    load "$pa" "$work/wrk-cpu-$mode-$r-a.txt"; w1=$wrk_pid
    load "$pb" "$work/wrk-cpu-$mode-$r-b.txt"; w2=$wrk_pid
    sleep "$DURATION"
    c1="$(cpu_ticks "${pids[@]}")"; x1="$(cpu_ticks "$tux_pid")"; d1="$(cpu_ticks ${db_pid:+"$db_pid"})"
    end_load "$w1" "$w2"
    record --phase cpu --label "$mode" --wrk "$work/wrk-cpu-$mode-$r-"{a,b}.txt \
      --set "round=$r" "cpu_ticks=$((c1 - c0))" "tux_ticks=$((x1 - x0))" "db_ticks=$((d1 - d0))" "duration=$DURATION"
    if [ "$mode" = off ]; then off_files+=("$work/wrk-cpu-$mode-$r-a.txt" "$work/wrk-cpu-$mode-$r-b.txt")
    else on_files+=("$work/wrk-cpu-$mode-$r-a.txt" "$work/wrk-cpu-$mode-$r-b.txt"); fi
  done
done
writer_stop
drained $A_PORT $B_PORT
snapshot "$work/snap-cpu-1.tsv"
# Each pair's CPU over the whole phase, the drain included: a round's batches are partly
# sent during the next off round (shipping lags), which the per-round figures leave out.
record --phase cpu_total --label off --wrk "${off_files[@]}" --set "cpu_ticks=$(( $(cpu_ticks "$a0_pid" "$b0_pid") - off_t0 ))"
record --phase cpu_total --label on --wrk "${on_files[@]}" --set "cpu_ticks=$(( $(cpu_ticks "$a_pid" "$b_pid") - on_t0 ))"
say "stopping the instances that do not count (A0, B0)"
bench_stop "$a0_pid" "$b0_pid"
record --phase exact --label "the on rounds of 1. ($ROUNDS x ${DURATION} s, writes during the load)" --wrk "${on_files[@]}" \
  --before "$before" --after "$work/snap-cpu-1.tsv" --set "note=all stored ${drain_s} s after the last round"
before="$work/snap-cpu-1.tsv"
fi

# ---------------------------------------------------------------- 3. receiver down

if want down; then
say "receiver down: tuxedo killed for ${RECEIVER_DOWN} s under load"
writer_start
load $A_PORT "$work/wrk-down-a.txt"; w1=$wrk_pid
load $B_PORT "$work/wrk-down-b.txt"; w2=$wrk_pid
sleep 5
kill -9 "$tux_pid"; wait "$tux_pid" 2>/dev/null || true; bench_untrack "$tux_pid"
waiting_max=0
for _ in $(seq "$RECEIVER_DOWN"); do
  sleep 1
  w=$(( $(metric $A_PORT bounce_stats_waiting_counts) + $(metric $B_PORT bounce_stats_waiting_counts) ))
  [ "$w" -le "$waiting_max" ] || waiting_max=$w
done
failed="$(( $(metric_where $A_PORT bounce_stats_batches_total 'outcome="failed"') + $(metric_where $B_PORT bounce_stats_batches_total 'outcome="failed"') ))"
start_tuxedo; tux_pid="$started"
say "tuxedo back after ${RECEIVER_DOWN} s; counts waiting at most $waiting_max (A+B)"
sleep 10
end_load "$w1" "$w2"
writer_stop
drained $A_PORT $B_PORT
snapshot "$work/snap-down.tsv"
record --phase down --label "receiver (tuxedo) killed for ${RECEIVER_DOWN} s under load" \
  --wrk "$work/wrk-down-"{a,b}.txt --before "$before" --after "$work/snap-down.tsv" \
  --set "note=bounce_stats_waiting_counts at most $waiting_max (A+B) while tuxedo was down; $failed batches failed (kept, sent again); all stored ${drain_s} s after the load"
before="$work/snap-down.tsv"
fi

# ---------------------------------------------------------------- 4., 5. bounce stopped under load

stop_run() { # phase signal label note; compares with $before, sets it
  local phase="$1" sig="$2" t0 t1 alive
  say "$phase: bounce A gets SIG$sig at half of ${DURATION_KILL} s under load"
  writer_start
  t0="$(date +%s.%N)"
  load $A_PORT "$work/wrk-$phase-a.txt"; w1=$wrk_pid
  load $B_PORT "$work/wrk-$phase-b.txt"; w2=$wrk_pid
  sleep $((DURATION_KILL / 2))
  t1="$(date +%s.%N)"
  kill -"$sig" "$a_pid"
  wait "$a_pid" 2>/dev/null || true; bench_untrack "$a_pid"
  exit_s="$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
  say "$phase: A exited $exit_s s after the signal"
  interrupt "$w1"
  alive="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
  sleep $((DURATION_KILL - DURATION_KILL / 2))
  end_load "$w2"
  writer_stop
  drained $B_PORT
  snapshot "$work/snap-$phase.tsv"
  record --phase "$phase" --label "$3" --wrk "$work/wrk-$phase-"{a,b}.txt \
    --before "$before" --after "$work/snap-$phase.tsv" \
    --set "a_alive=$alive" "drain=$STATS_DRAIN" "note=A exited $exit_s s after the signal$4; all stored ${drain_s} s after the load"
  start_bounce $A_PORT "$STATS_DRAIN"; a_pid="$started"
  python3 "$bench_dir/release_day.py" warm --bounce "$A_PORT" --urls "$urls" --script "$bench_dir/rotate.lua"
  drained $A_PORT $B_PORT
  snapshot "$work/snap-$phase-warm.tsv"
  before="$work/snap-$phase-warm.tsv"
}
! want term || stop_run term TERM "SIGTERM of bounce A under load" " (it sends what is left first)"
! want kill9 || stop_run kill9 KILL "kill -9 of bounce A under load" ""

# ---------------------------------------------------------------- 6. unknown names

if want unknown; then
say "unknown names: $UNKNOWN_REQUESTS requests (A+B), no writes"
q0="$(( $(metric $A_PORT bounce_db_queries_total) + $(metric $B_PORT bounce_db_queries_total) ))"
wq0="$(( $(metric $A_PORT bounce_db_watch_queries_total) + $(metric $B_PORT bounce_db_watch_queries_total) ))"
m0="$(( $(metric $A_PORT bounce_memcached_calls_total) + $(metric $B_PORT bounce_memcached_calls_total) ))"
n0="$(( $(metric $A_PORT bounce_requests_total) + $(metric $B_PORT bounce_requests_total) ))"
ra0="$(rss_mib "$a_pid")" rb0="$(rss_mib "$b_pid")"
ra_max=$ra0 rb_max=$rb0 waiting_max=0
load $A_PORT "$work/wrk-unknown-a.txt" unknown; w1=$wrk_pid
load $B_PORT "$work/wrk-unknown-b.txt" unknown; w2=$wrk_pid
while :; do
  sleep 1
  ra="$(rss_mib "$a_pid")" rb="$(rss_mib "$b_pid")"
  [ "$ra" -le "$ra_max" ] || ra_max=$ra
  [ "$rb" -le "$rb_max" ] || rb_max=$rb
  w=$(( $(metric $A_PORT bounce_stats_waiting_counts) + $(metric $B_PORT bounce_stats_waiting_counts) ))
  [ "$w" -le "$waiting_max" ] || waiting_max=$w
  n="$(( $(metric $A_PORT bounce_requests_total) + $(metric $B_PORT bounce_requests_total) ))"
  [ $((n - n0)) -lt "$UNKNOWN_REQUESTS" ] || break
  kill -0 "$w1" 2>/dev/null || die "wrk stopped early"
done
interrupt "$w1"; interrupt "$w2"
q1="$(( $(metric $A_PORT bounce_db_queries_total) + $(metric $B_PORT bounce_db_queries_total) ))"
wq1="$(( $(metric $A_PORT bounce_db_watch_queries_total) + $(metric $B_PORT bounce_db_watch_queries_total) ))"
m1="$(( $(metric $A_PORT bounce_memcached_calls_total) + $(metric $B_PORT bounce_memcached_calls_total) ))"
drained $A_PORT $B_PORT
ra1="$(rss_mib "$a_pid")" rb1="$(rss_mib "$b_pid")"
snapshot "$work/snap-unknown.tsv"
record --phase unknown --label "$UNKNOWN_REQUESTS unknown names" --wrk "$work/wrk-unknown-"{a,b}.txt \
  --before "$before" --after "$work/snap-unknown.tsv" \
  --set "rss_a=$ra0 → $ra_max → $ra1" "rss_b=$rb0 → $rb_max → $rb1" "waiting_max=$waiting_max" \
        "dbq=$((q1 - q0))" "watchq=$((wq1 - wq0))" "mc=$((m1 - m0))"
fi

# ---------------------------------------------------------------- report

note="Measured $started_at to $(date -u +%FT%TZ) on $(nproc) CPUs; PHASES=\"$PHASES\", DURATION=${DURATION}s, ROUNDS=$ROUNDS, RECEIVER_DOWN=${RECEIVER_DOWN}s, DURATION_KILL=${DURATION_KILL}s, UNKNOWN_REQUESTS=$UNKNOWN_REQUESTS, STATS_DRAIN=${STATS_DRAIN}s, CONNECTIONS=$CONNECTIONS, $MIRRORS mirrors x $LOCATIONS locations; load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
python3 "$helper" report --results "$results" --note "$note"

for f in "$work"/bounce-*.log "$work/tuxedo.log"; do
  [ -f "$f" ] || continue
  n="$(grep -cE '"level":"(WARN|ERROR)"' "$f" || true)"
  if [ "$n" != 0 ]; then
    say "$(basename "$f"): $n warnings or errors; the first:"
    grep -m3 -E '"level":"(WARN|ERROR)"' "$f" >&2
  fi
done
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  for port in $A_PORT $B_PORT; do curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics-$port.txt" || true; done
  curl -s "http://127.0.0.1:$TUX_PORT/metrics" >"$work/metrics-tuxedo.txt" || true
  cp "$work"/*.jsonl "$work"/*.log "$work"/wrk-*.txt "$work"/snap-*.tsv "$work"/metrics-*.txt "$KEEP"/ \
    && say "results, wrk outputs, snapshots, logs and final metrics copied to $KEEP"
fi
