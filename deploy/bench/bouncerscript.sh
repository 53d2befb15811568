#!/usr/bin/env bash
# Release automation's own client against the stack: bouncerscript's alias step (create_update_alias
# for each alias, then check_aliases_match reading print=yes from bounce at once, no retry),
# RUNS times, flipping between two releases, on MariaDB + memcached + tuxedo + two bounce
# instances. Run once with the fleet (read-your-writes at acknowledgement) and once
# without it, side by side. One JSON line per mode on stdout.
#
#   deploy/bench/bouncerscript.sh                 # RUNS=20, both modes
#   MODES=fleet RUNS=50 BUILD=0 deploy/bench/bouncerscript.sh
#
# Settings: RUNS=20, MODES="fleet nofleet", BUILD=1 (0: use the release binaries already
# built), MYSQL=mysql://root@127.0.0.1:3306, DB=bench_bouncerscript (created and dropped).
# bouncerscript (PyPI, with scriptworker and aiohttp) is installed in a venv under
# $BENCH_DIR (default ./var/bench-bouncerscript).
. "$(dirname "$0")/lib.sh"; bench_init bouncerscript
RUNS="${RUNS:-20}"; MODES="${MODES:-fleet nofleet}"; DB="${DB:-bench_bouncerscript}"
dir="${BENCH_DIR:-$root/var/bench-bouncerscript}"
MC_PORT=11298 A_PORT=8120 B_PORT=8121 TUX_PORT=8122
bench_mysql "${MYSQL:-mysql://root@127.0.0.1:3306}"

mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then
  say "installing bouncerscript from PyPI into $dir/venv"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q bouncerscript==3.6.2
fi
bench_build -p bounce -p tuxedo
bench_memcached "$MC_PORT"

token="bench-fleet-token-$(date +%s%N)"
for mode in $MODES; do
  bench_fresh_db "$DB"
  export BOUNCER_DATABASE__URL="$db_url"
  export BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$MC_PORT\"]"
  BOUNCER_MEMCACHED__PREFIX="bs$mode$(date +%s)"; export BOUNCER_MEMCACHED__PREFIX
  export BOUNCER_BOUNCE__FALLBACK_BASE_URL="https://fallback.example/pub"
  export BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX_PORT"
  export BOUNCER_TUXEDO__GATE_CHECK_SECS=0
  unset BOUNCER_FLEET__TOKEN BOUNCER_FLEET__TUXEDO_URLS
  if [ "$mode" = fleet ]; then
    export BOUNCER_FLEET__TOKEN="$token"
    export BOUNCER_FLEET__TUXEDO_URLS="[\"http://127.0.0.1:$TUX_PORT\"]"
  fi
  bench_tuxedo_init "$dir/tuxedo.log"
  for os in win win64; do sql "$DB" -e "INSERT INTO mirror_os (name, priority) VALUES ('$os', 0)"; done
  "$bin/tuxedo" >>"$dir/tuxedo.log" 2>&1 & mode_pids=($!)
  bench_track "${mode_pids[@]}"
  bench_wait_http "http://127.0.0.1:$TUX_PORT/__lbheartbeat__" "${mode_pids[0]}"
  "$dir/venv/bin/python" deploy/bench/bouncerscript_aliases.py seed \
    "http://127.0.0.1:$TUX_PORT" releng "$bench_password"
  for port in $A_PORT $B_PORT; do
    BOUNCER_BOUNCE__LISTEN="127.0.0.1:$port" "$bin/bounce" >>"$dir/bounce-$port.log" 2>&1 & mode_pids+=($!)
    bench_track $!
    bench_wait_http "http://127.0.0.1:$port/__lbheartbeat__" $!
  done
  [ "$mode" != fleet ] || bench_wait_registered "$DB" 2
  say "mode $mode: $RUNS runs of the alias step"
  line="$("$dir/venv/bin/python" deploy/bench/bouncerscript_aliases.py run \
    "http://127.0.0.1:$TUX_PORT" releng "$bench_password" \
    "http://127.0.0.1:$A_PORT" "http://127.0.0.1:$B_PORT" "$RUNS" 2>>"$dir/runs-$mode.log")"
  echo "{\"mode\": \"$mode\", \"result\": $line}"
  bench_stop "${mode_pids[@]}"
done
