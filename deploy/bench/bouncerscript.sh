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
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
RUNS="${RUNS:-20}"; MODES="${MODES:-fleet nofleet}"; BUILD="${BUILD:-1}"
MYSQL="${MYSQL:-mysql://root@127.0.0.1:3306}"; DB="${DB:-bench_bouncerscript}"
dir="${BENCH_DIR:-$root/var/bench-bouncerscript}"
MC_PORT=11298 A_PORT=8120 B_PORT=8121 TUX_PORT=8122
say() { printf 'bouncerscript: %s\n' "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; say "$1 did not come up"; exit 1; }

mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then
  say "installing bouncerscript from PyPI into $dir/venv"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install -q bouncerscript==3.6.2
fi
if [ "$BUILD" = 1 ]; then
  say "building bounce and tuxedo (release)"
  cargo build --release --locked -q -p bounce -p tuxedo
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release"
hostport="${MYSQL#*://}"; hostport="${hostport#*@}"
sql() { mariadb --no-defaults -h "${hostport%:*}" -P "${hostport##*:}" -uroot "$@"; }

pids=()
stop_all() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=(); }
trap 'stop_all; sql -e "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true' EXIT
memcached -u "$(id -un)" -l 127.0.0.1 -p "$MC_PORT" -m 64 & pids+=($!)

token="bench-fleet-token-$(date +%s%N)"
for mode in $MODES; do
  sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
  export BOUNCER_DATABASE__URL="${MYSQL%/}/$DB"
  export BOUNCER_MEMCACHED__SERVERS="[\"127.0.0.1:$MC_PORT\"]"
  export BOUNCER_MEMCACHED__PREFIX="bs$mode$(date +%s)"
  export BOUNCER_BOUNCE__FALLBACK_BASE_URL="https://fallback.example/pub"
  export BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX_PORT"
  export BOUNCER_TUXEDO__GATE_CHECK_SECS=0
  unset BOUNCER_FLEET__TOKEN BOUNCER_FLEET__TUXEDO_URLS
  if [ "$mode" = fleet ]; then
    export BOUNCER_FLEET__TOKEN="$token"
    export BOUNCER_FLEET__TUXEDO_URLS="[\"http://127.0.0.1:$TUX_PORT\"]"
  fi
  "$bin/tuxedo" migrate >>"$dir/tuxedo.log" 2>&1
  echo "release-password-0123" | "$bin/tuxedo" user add releng --role release >>"$dir/tuxedo.log" 2>&1
  for os in win win64; do sql "$DB" -e "INSERT INTO mirror_os (name, priority) VALUES ('$os', 0)"; done
  "$bin/tuxedo" >>"$dir/tuxedo.log" 2>&1 & pids+=($!)
  wait_up "http://127.0.0.1:$TUX_PORT/__lbheartbeat__"
  "$dir/venv/bin/python" deploy/bench/bouncerscript_aliases.py seed \
    "http://127.0.0.1:$TUX_PORT" releng release-password-0123
  for port in $A_PORT $B_PORT; do
    BOUNCER_BOUNCE__LISTEN="127.0.0.1:$port" "$bin/bounce" >>"$dir/bounce-$port.log" 2>&1 & pids+=($!)
    wait_up "http://127.0.0.1:$port/__lbheartbeat__"
  done
  if [ "$mode" = fleet ]; then
    for _ in $(seq 100); do
      n="$(sql "$DB" -N -e 'SELECT COUNT(*) FROM bouncer_instances WHERE expires_at > UTC_TIMESTAMP()')"
      [ "$n" = 2 ] && break; sleep 0.1
    done
    [ "$n" = 2 ] || { say "the bounce instances did not register"; exit 1; }
  fi
  say "mode $mode: $RUNS runs of the alias step"
  line="$("$dir/venv/bin/python" deploy/bench/bouncerscript_aliases.py run \
    "http://127.0.0.1:$TUX_PORT" releng release-password-0123 \
    "http://127.0.0.1:$A_PORT" "http://127.0.0.1:$B_PORT" "$RUNS" 2>>"$dir/runs-$mode.log")"
  echo "{\"mode\": \"$mode\", \"result\": $line}"
  kill "${pids[@]:1}" 2>/dev/null || true; wait "${pids[@]:1}" 2>/dev/null || true
  pids=("${pids[0]}")
done
