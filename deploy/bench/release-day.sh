#!/usr/bin/env bash
# Release-day load benchmark: two bounce instances under full load while the catalogue is
# written, each case side by side with a no-write run. Progress on stderr, the Markdown
# table on stdout.
#
#   deploy/bench/release-day.sh > table.md                     # about 15 minutes
#   DURATION=10 DURATION_D=60 deploy/bench/release-day.sh      # a moderate run, 10 minutes
#   BUILD=0 DURATION=5 DURATION_D=20 ROUNDS=1 CASES="a b" deploy/bench/release-day.sh
#
# Settings (environment):
#   DURATION=15      seconds per measured run of the ceilings and cases (a)-(c); the release
#                    of (b) takes 4-8 s under load and must fit in it
#   DURATION_D=300   seconds of case (d) (unknown names; RSS sampled RSS_SAMPLES times)
#   ROUNDS=3         alternating rounds per case (no-write, with writes); figures are medians
#   ROUNDS_D=1       rounds of case (d)
#   CONNECTIONS=64   wrk connections in total (half per target)
#   CASES="a b c d"  which cases to run
#   MIRRORS=50 LOCATIONS=1000   catalogue (seed_bench: every mirror serves every location)
#   SENTRY_INTERVAL=3 SENTRY_PRODUCTS=10   case (c): daemon interval, seeded products
#                    flagged checknow (x 5 locations x MIRRORS probes per sentry run)
#   MYSQL=mysql://root@127.0.0.1:3306  DB=bench_release (created and dropped)
#   BUILD=1          0: use the binaries already in $CARGO_TARGET_DIR/release
#   KEEP=DIR         copy the raw JSON lines, every log and the final /metrics there
#   FILES=0          1: give every seeded location a bouncer_files row (size, sha256) per
#                    language the URLs ask for, so redirects carry Repr-Digest/Digest (issue
#                    15); skipped with a note when the schema has no bouncer_files (older builds)
#
# Topology, all on 127.0.0.1: MariaDB (database $DB), our own memcached (:11299), bounce A
# (:8100) and B (:8101), tuxedo (:8102) on the same database, sentry (:8103, case (c)
# only), fake mirrors (release_day.py fake-mirrors: a bare asyncio HTTP server, :8104; every
# seeded mirror's base URL points there), nginx `return 302` (:8090, nginx-302.conf) and the
# bare actix 302 (bounce/examples/bare_302.rs, :8091) as ceilings.
#
# Load: two wrk processes (1 thread, CONNECTIONS/2 connections each) at once, one per bounce
# instance, both rotating over every location (rotate.lua); req/s is their sum, p99 the
# worse of the two. The ceilings get the same two wrk processes against their one port.
# The machine drifts by +-20 %, so each case alternates no-write and write rounds. After a
# write run the script waits until both instances serve the master's generation and
# refills what the writes dropped, so the next no-write run does not pay for them.
#
# Cases:
#   (a) one location path PATCH per second through the JSON API (Bearer token);
#   (b) a release through the XML API with Basic auth (as release automation sends it):
#       4 products x (product_show, product_add en-US, product_language_add 99 locales,
#       location_show, location_add x 5 OS), then 4 create_update_alias flips;
#   (c) `sentry daemon --checknow` (failures_to_down = successes_to_up = 1, ramp_runs = 4)
#       against the fake mirrors: m49 is down every other run, m48 down 2 runs of every 8
#       and then ramps (hysteresis 1/1, so every flip changes map rows: the worst case).
#       The daemon is killed after each write run and its run lease released (sentry does
#       not release it on SIGTERM; the next daemon would skip runs for 60 s);
#   (d) random unknown product names (unknown.lua) for DURATION_D, RSS sampled.
# Write -> visible: after each acknowledged write, a poller asks both instances every 2 ms
# for a URL whose answer the write changes (new Location path; 404 -> 302 for a new
# location; alias answering the new product's path). product_add and product_language_add
# change no answer before the locations exist; for them the poller waits until the
# instance's bounce_catalogue_generation reaches the generation tuxedo published.
# New locations start inactive (sentry has not seen the files), so bounce runs with
# fallback_base_url = https://fallback.example/pub and answers them with a 302 there.
# CPU per request = utime + stime of the server processes (/proc/PID/stat) / requests wrk
# completed; "other CPU" is that of tuxedo, the fake mirrors, sentry (c) and this script's
# writer and pollers during the run, mariadbd apart. The ceilings run with as many workers
# as both bounce instances together (2 x cores). DB queries = bounce_db_queries_total +
# bounce_db_watch_queries_total, memcached calls = bounce_memcached_calls_total (hit, miss,
# error), both per 1M requests bounce served.
# During write runs another client runs SELECT 1 and a one-row INSERT twice a second
# (release_day_probe table): when those stall too, a slow write or a late visibility is
# the machine's or the database server's, not tuxedo's or bounce's. The footer also gives
# the server-wide CREATE/DROP DATABASE count of other clients during the runs.
. "$(dirname "$0")/lib.sh"; bench_init release-day
die() { say "ERROR: $*"; exit 1; }
secs() { local v="${1%s}"; [[ "$v" =~ ^[0-9]+$ ]] || { echo "not a number of seconds: $1" >&2; exit 2; }; echo "$v"; }
DURATION="$(secs "${DURATION:-15}")"; DURATION_D="$(secs "${DURATION_D:-300}")"
ROUNDS="${ROUNDS:-3}"; ROUNDS_D="${ROUNDS_D:-1}"; CONNECTIONS="${CONNECTIONS:-64}"
CASES="${CASES:-a b c d}"; MIRRORS="${MIRRORS:-50}"; LOCATIONS="${LOCATIONS:-1000}"
SENTRY_INTERVAL="${SENTRY_INTERVAL:-3}"; SENTRY_PRODUCTS="${SENTRY_PRODUCTS:-10}"
RSS_SAMPLES="${RSS_SAMPLES:-30}"
DB="${DB:-bench_release}"; FILES="${FILES:-0}"
MC_PORT=11299 A_PORT=8100 B_PORT=8101 TUX_PORT=8102 SENTRY_PORT=8103 MIRROR_PORT=8104
NGINX_PORT=8090 BARE_PORT=8091
PREFIX="benchrel$$"
LOG="warn,actix_http::h1=off"
helper="$bench_dir/release_day.py"

bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"
[ -z "$my_pass" ] || export MYSQL_PWD="$my_pass"   # for the helper's database probe
bench_install wrk nginx memcached
bench_require wrk nginx memcached mariadb python3 curl
sql -e 'SELECT 1' >/dev/null 2>&1 || die "MariaDB does not answer at $my_url (start it: service mariadb start)"
bench_ports_free $MC_PORT $A_PORT $B_PORT $TUX_PORT $SENTRY_PORT $MIRROR_PORT $NGINX_PORT $BARE_PORT

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/bouncer/target}"
bench_build -p bounce -p tuxedo -p sentry --bins --examples
bench_need_bins bounce tuxedo sentry examples/seed_bench examples/bare_302

bench_workdir bouncer-release-day
bench_fail_logs=("$work/*.log")
sentry_pid=""

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "database $DB, memcached :$MC_PORT, seeding $MIRRORS mirrors x $LOCATIONS locations"
bench_fresh_db "$DB"
bench_memcached "$MC_PORT" 256
urls="$work/urls.txt"
bench_seed "$bin" "$db_url" "$MIRRORS" "$LOCATIONS" "$urls" "$work/geo.mmdb" "http://127.0.0.1:$MIRROR_PORT/m{}"
# Products sentry --checknow probes in (c) (the release's products get checknow from tuxedo).
sql "$DB" -e "UPDATE mirror_products SET checknow = 1 WHERE id <= $SENTRY_PRODUCTS;
  CREATE TABLE release_day_probe (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL)"
if [ "$FILES" = 1 ]; then
  # Before bounce starts, so the first fill of each location reads its files.
  if bench_files "$DB"; then
    say "FILES=1: $(sql "$DB" -e 'SELECT COUNT(*) FROM bouncer_files') bouncer_files rows (sha256 for every location and language)"
  else
    say "FILES=1: this schema has no bouncer_files; no file rows seeded"
  fi
fi

export BOUNCER_DATABASE__URL="$db_url" BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$MC_PORT\"]"
export BOUNCER_MEMCACHED__PREFIX="$PREFIX"
password="release-day-$RANDOM$RANDOM-pw"
echo "$password" | RUST_LOG="$LOG" "$bin/tuxedo" user add releng --role release >"$work/cli.log" 2>&1 || die "tuxedo user add failed: $(cat "$work/cli.log")"
token="$(RUST_LOG="$LOG" "$bin/tuxedo" token add --user releng --role release --name release-day 2>>"$work/cli.log" | grep -E '^bnct_' | tail -n1)"
[ -n "$token" ] || die "tuxedo token add printed no token: $(cat "$work/cli.log")"

BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX_PORT" RUST_LOG="$LOG" "$bin/tuxedo" serve >"$work/tuxedo.log" 2>&1 &
tux_pid=$!; bench_track "$tux_pid"
bench_wait_http "http://127.0.0.1:$TUX_PORT/__lbheartbeat__" "$tux_pid" 100

start_bounce() { # port → pid
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" \
  BOUNCER_BOUNCE__FALLBACK_BASE_URL="https://fallback.example/pub" RUST_LOG="$LOG,bounce::catalogue=info" \
    "$bin/bounce" serve >"$work/bounce-$1.log" 2>&1 &
  echo $!
}
a_pid="$(start_bounce $A_PORT)"; bench_track "$a_pid"
b_pid="$(start_bounce $B_PORT)"; bench_track "$b_pid"
bench_wait_http "http://127.0.0.1:$A_PORT/__lbheartbeat__" "$a_pid" 100
bench_wait_http "http://127.0.0.1:$B_PORT/__lbheartbeat__" "$b_pid" 100

# The aliases the release flips, first pointing at seeded products. These are tuxedo
# writes, so the generation is published to memcached, as in production.
i=0
for alias in bench-firefox-latest bench-firefox-latest-ssl bench-firefox-msi-latest-ssl bench-firefox-stub; do
  code="$(curl -s -o "$work/alias.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"related_product\": \"bench-$i\"}" \
    "http://127.0.0.1:$TUX_PORT/api/v2/aliases/$alias")"
  [ "$code" = 200 ] || [ "$code" = 201 ] || die "PUT alias $alias answered $code: $(cat "$work/alias.out")"
  i=$((i + 1))
done
published="$(bench_mc_get "127.0.0.1:$MC_PORT" "$PREFIX:generation:catalogue")"
[ -n "$published" ] || die "tuxedo did not publish the generation to memcached"
code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$A_PORT/?product=bench-firefox-latest&os=win&lang=de")"
[ "$code" = 302 ] || die "bounce A answers $code for an alias of a seeded product"

# The ceilings get as many workers as the two bounce instances together (actix: one per core each).
workers=$(( 2 * $(nproc) ))
bench_nginx "$workers"
"$bin/examples/bare_302" "127.0.0.1:$BARE_PORT" "$workers" >"$work/bare.log" 2>&1 &
bare_pid=$!; bench_track "$bare_pid"
python3 "$helper" fake-mirrors --port "$MIRROR_PORT" --flap "m$((MIRRORS - 1))" --ramp "m$((MIRRORS - 2))" >"$work/mirrors.log" 2>&1 &
mirrors_pid=$!; bench_track "$mirrors_pid"
bench_wait_http "http://127.0.0.1:$BARE_PORT/" "$bare_pid" 100
bench_wait_http "http://127.0.0.1:$MIRROR_PORT/m0/" "$mirrors_pid" 100
curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" || die "nginx does not answer on :$NGINX_PORT"

say "warming both instances"
python3 "$helper" warm --bounce "$A_PORT,$B_PORT" --urls "$urls" --script "$bench_dir/rotate.lua"

results="$work/results.jsonl"; vis="$work/visible.jsonl"
rotate="$bench_dir/rotate.lua"
run() { # case run duration [extra load args...]
  local case="$1" kind="$2" duration="$3"; shift 3
  # In the background, so that a signal reaches the trap at once (not after the run).
  # Stopped at exit like the servers; it stops its wrk processes then.
  python3 "$helper" load --case "$case" --run "$kind" --duration "$duration" --connections "$CONNECTIONS" \
    --urls "$urls" --out "$results" --vis "$vis" --locations "$LOCATIONS" "$@" &
  local helper_pid=$!
  bench_track "$helper_pid"
  wait "$helper_pid"
  bench_untrack "$helper_pid"
}
# mariadbd's CPU is reported apart (it may serve others too); found by its listening port.
db_pid="$(ss -Hltnp "sport = :$my_port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true)"
aux="tuxedo=$tux_pid,mirrors=$mirrors_pid${db_pid:+,mariadb=$db_pid}"
status_cmd="MYSQL_PWD='$my_pass' mariadb -h'$my_host' -P'$my_port' -u'$my_user' -N -B -e \"SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_create_db', 'Com_drop_db', 'Slow_queries')\""
bounce_args=(--targets "$A_PORT,$B_PORT" --bounce "$A_PORT,$B_PORT" --pids "$a_pid,$b_pid" --aux-pids "$aux"
             --mysql-status "$status_cmd")
probe_cmd="mariadb"$'\x1f'"-h$my_host"$'\x1f'"-P$my_port"$'\x1f'"-u$my_user"$'\x1f'"$DB"$'\x1f'"-e"
writer_args=(--db-probe "$probe_cmd" --tuxedo "$TUX_PORT" --token "$token" --user releng --password "$password"
             --memcached "127.0.0.1:$MC_PORT" --prefix "$PREFIX")

for r in $(seq "$ROUNDS"); do
  say "ceilings, round $r/$ROUNDS"
  run ceiling nowrite "$DURATION" --label "bounce A+B, no writes" --round "$r" --script "$rotate" "${bounce_args[@]}"
  run ceiling nginx "$DURATION" --label "nginx return 302" --round "$r" --script "$rotate" \
    --targets "$NGINX_PORT,$NGINX_PORT" --pids "$nginx_pid" --aux-pids "$aux"
  run ceiling bare "$DURATION" --label "bare actix 302" --round "$r" --script "$rotate" \
    --targets "$BARE_PORT,$BARE_PORT" --pids "$bare_pid" --aux-pids "$aux"
done

start_sentry() {
  BOUNCER_SENTRY__LISTEN="127.0.0.1:$SENTRY_PORT" BOUNCER_SENTRY__INTERVAL_SECS="$SENTRY_INTERVAL" \
  BOUNCER_SENTRY__REQUEST_TIMEOUT_MS=1000 BOUNCER_SENTRY__FAILURES_TO_DOWN=1 \
  BOUNCER_SENTRY__SUCCESSES_TO_UP=1 BOUNCER_SENTRY__RAMP_RUNS=4 RUST_LOG="$LOG" \
    "$bin/sentry" daemon --checknow >>"$work/sentry.log" 2>&1 &
  sentry_pid=$!; bench_track "$sentry_pid"
  bench_wait_http "http://127.0.0.1:$SENTRY_PORT/__lbheartbeat__" "$sentry_pid" 100
}
stop_sentry() {
  local m
  m="$(curl -s "http://127.0.0.1:$SENTRY_PORT/metrics" | grep -E '^sentry_(runs_total|mirrors)' | tr '\n' ' ' || true)"
  say "sentry: $m"
  [[ "$m" == *'outcome="completed"'* ]] || say "WARNING: sentry completed no run during case (c)"
  bench_stop "$sentry_pid"
  sentry_pid=""
  # sentry does not release its run lease when killed; the next daemon would skip its runs
  # until the lease expires (60 s). Release it for the next round.
  sql "$DB" -e "DELETE FROM bouncer_leases WHERE name = 'sentry-run'"
}

# After a write run: wait until both instances serve the master's generation, then refill
# what the writes dropped, so the next no-write run does not pay for them.
settle() {
  python3 "$helper" settle --bounce "$A_PORT,$B_PORT" --urls "$urls" --script "$rotate" \
    --master-generation "MYSQL_PWD='$my_pass' mariadb -h'$my_host' -P'$my_port' -u'$my_user' -N -B '$DB' -e \"SELECT value FROM bouncer_generation WHERE name = 'catalogue'\""
}

for case in $CASES; do
  case "$case" in
    a|b|c)
      for r in $(seq "$ROUNDS"); do
        say "case ($case), round $r/$ROUNDS"
        run "$case" nowrite "$DURATION" --label "no writes" --round "$r" --script "$rotate" "${bounce_args[@]}"
        case "$case" in
          a) run a write "$DURATION" --label "1 write/s" --round "$r" --script "$rotate" --mode paths \
               "${bounce_args[@]}" "${writer_args[@]}" ;;
          b) run b write "$DURATION" --label "release" --round "$r" --script "$rotate" --mode release \
               "${bounce_args[@]}" "${writer_args[@]}" ;;
          c) start_sentry
             run c write "$DURATION" --label "sentry daemon" --round "$r" --script "$rotate" "${bounce_args[@]}" \
               --aux-pids "$aux,sentry=$sentry_pid" --db-probe "$probe_cmd"
             stop_sentry ;;
        esac
        settle
      done ;;
    d)
      every=$(( DURATION_D / RSS_SAMPLES )); [ "$every" -ge 1 ] || every=1
      for r in $(seq "$ROUNDS_D"); do
        say "case (d), round $r/$ROUNDS_D (${DURATION_D} s of unknown names)"
        run d nowrite "$DURATION" --label "no writes (known names)" --round "$r" --script "$rotate" "${bounce_args[@]}"
        run d write "$DURATION_D" --label "unknown names, ${DURATION_D} s" --round "$r" \
          --script "$bench_dir/unknown.lua" --rss-every "$every" "${bounce_args[@]}"
      done ;;
    *) die "unknown case $case" ;;
  esac
done

note="Measured $(date -u +%FT%TZ) on $(nproc) CPUs; DURATION=${DURATION}s, ROUNDS=$ROUNDS, DURATION_D=${DURATION_D}s, CONNECTIONS=$CONNECTIONS, $MIRRORS mirrors x $LOCATIONS locations; load average before the run: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
python3 "$helper" report --results "$results" --vis "$vis" --note "$note"

for f in "$work"/bounce-*.log "$work/tuxedo.log" "$work/sentry.log"; do
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
  cp "$work"/*.jsonl "$work"/*.log "$work"/metrics-*.txt "$KEEP"/ && say "raw results, logs and final metrics copied to $KEEP"
fi
