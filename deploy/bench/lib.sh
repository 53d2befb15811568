# shellcheck shell=bash
# The setup every deploy/bench script shares, sourced first thing:
#
#   . "$(dirname "$0")/lib.sh"; bench_init NAME
#
# so that each script states only what it measures. bench_init changes to the repository
# root ($root), sets `set -euo pipefail` and one EXIT trap that stops whatever the script
# started through these functions (tracked processes, nginx, databases, work directory),
# in this order:
#   1. the tracked processes (bench_track) get SIGTERM and are waited for; nginx stops;
#   2. the exit hooks (bench_on_exit, fresh databases) run, the last registered first;
#   3. on failure, the last lines of the logs bench_fail_logs names (an array of globs, as
#      "$work/*.log") go to stderr;
#   4. the work directory (bench_workdir) is removed.
# Every function name starts with bench_, except say, die and sql.

# NAME prefixes say and die. Changes to the repository root.
bench_init() {
  set -euo pipefail
  bench_name="$1"
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  cd "$root"
  bench_dir="$root/deploy/bench"
  bench_pids=() bench_hooks=() bench_fail_logs=() bench_nginx=""
  work=""
  server=() client=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# Progress and errors on stderr, prefixed with the script's name.
say() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() { say "$*"; exit 1; }

# ---------------------------------------------------------------- tools, build

# Installs those of wrk, nginx (nginx-light) and memcached that are missing, from Debian's
# packages (sudo when not root).
bench_install() {
  local missing=() cmd sudo=""
  for cmd in "$@"; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]/nginx/nginx-light}" >/dev/null
}

# Dies unless every command named is on PATH.
bench_require() {
  local cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null || die "$cmd is not installed"; done
}

# Dies if one of the TCP ports is already listened on (another benchmark running?).
bench_ports_free() {
  local port
  for port in "$@"; do
    ! ss -Hltn "sport = :$port" | grep -q . || die "port $port is in use (another benchmark running?)"
  done
}

# cargo build --release --locked -q ARGS (niced), unless BUILD=0; sets $bin to the release
# directory of CARGO_TARGET_DIR (default ./target) either way.
bench_build() {
  if [ "${BUILD:-1}" != 0 ]; then
    say "building (release)"
    nice cargo build --release --locked -q "$@"
  fi
  bin="${CARGO_TARGET_DIR:-$root/target}/release"
}

# Dies unless each of the files (relative to $bin) is an executable there.
bench_need_bins() {
  local b
  for b in "$@"; do [ -x "$bin/$b" ] || die "$bin/$b is missing (cargo build --release)"; done
}

# ---------------------------------------------------------------- processes, cleanup

# A fresh directory /tmp/PREFIX.XXXXXX as $work, removed at exit.
bench_workdir() { work="$(mktemp -d "/tmp/$1.XXXXXX")"; }

# Processes the EXIT trap stops (SIGTERM, then waits for them).
bench_track() { bench_pids+=("$@"); }

# Stops the processes now (SIGTERM, wait) and no longer tracks them.
bench_stop() {
  kill "$@" 2>/dev/null || true
  wait "$@" 2>/dev/null || true
  bench_untrack "$@"
}

# No longer tracks the processes (they have ended).
bench_untrack() {
  local p keep=() q
  for q in "${bench_pids[@]}"; do
    for p in "$@"; do [ "$p" != "$q" ] || continue 2; done
    keep+=("$q")
  done
  bench_pids=("${keep[@]}")
}

# A command (a string, eval'ed) for the EXIT trap, after the processes are stopped.
bench_on_exit() { bench_hooks+=("$1"); }

bench_cleanup() {
  local rc=$? i f pattern
  trap - EXIT INT TERM
  set +e
  if ((${#bench_pids[@]})); then
    kill "${bench_pids[@]}" 2>/dev/null
    wait "${bench_pids[@]}" 2>/dev/null
  fi
  bench_stop_nginx
  for ((i = ${#bench_hooks[@]} - 1; i >= 0; i--)); do eval "${bench_hooks[i]}" 2>/dev/null; done
  if [ "$rc" != 0 ]; then
    for pattern in "${bench_fail_logs[@]}"; do
      for f in $pattern; do  # a glob, expanded now
        [ -s "$f" ] && { say "last lines of $f:"; tail -n 5 "$f" >&2; }
      done
    done
  fi
  [ -z "$work" ] || rm -rf "$work"
  exit "$rc"
}

# Polls URL every 0.1 s until it answers 2xx, at most TRIES times (default 300); dies if it
# does not, or at once if PID (optional) exits meanwhile.
bench_wait_http() {
  local url="$1" pid="${2:-}" tries="${3:-300}"
  for _ in $(seq "$tries"); do
    curl -sf -o /dev/null "$url" && return 0
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || die "the process serving $url exited"
    sleep 0.1
  done
  die "$url did not answer"
}

# Sets the arrays server and client: taskset prefixes for "pinned" (server on core 0, the
# load generator on core 1), empty for "shared".
bench_layout() {
  case "$1" in
    pinned) server=(taskset -c 0) client=(taskset -c 1) ;;
    shared) server=() client=() ;;
    *) die "unknown layout $1" ;;
  esac
}

# ---------------------------------------------------------------- memcached, nginx

# Our own memcached on 127.0.0.1:PORT with MEGABYTES (default 64) of memory, tracked;
# returns once it accepts connections.
bench_memcached() {
  memcached -u "$(id -un)" -l 127.0.0.1 -p "$1" -m "${2:-64}" >/dev/null 2>&1 &
  bench_track $!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  die "memcached did not start on :$1"
}

# memcached set: ADDR (host:port) KEY VALUE.
bench_mc_set() {
  local fd reply
  exec {fd}<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'set %s 0 0 %d\r\n%s\r\n' "$2" "${#3}" "$3" >&"$fd"
  IFS= read -r -t 2 reply <&"$fd" || true
  exec {fd}>&-
  [ "${reply%$'\r'}" = STORED ] || die "memcached did not store $2"
}

# memcached get: ADDR KEY → the value on stdout (nothing when the key is missing).
bench_mc_get() {
  local fd line value=""
  exec {fd}<>"/dev/tcp/${1%:*}/${1##*:}"
  printf 'get %s\r\n' "$2" >&"$fd"
  while IFS= read -r -t 2 line <&"$fd"; do
    case "${line%$'\r'}" in
      END) break ;;
      VALUE*) IFS= read -r -t 2 value <&"$fd"; value="${value%$'\r'}" ;;
    esac
  done
  exec {fd}>&-
  printf '%s' "$value"
}

# nginx `return 302` (nginx-302.conf, :8090) with WORKERS worker processes, under the
# server prefix (bench_layout); stops one still running first. Sets nginx_pid.
bench_nginx() {
  bench_stop_nginx
  "${server[@]}" nginx -c "$bench_dir/nginx-302.conf" -g "worker_processes $1;" || die "nginx did not start"
  bench_nginx=1
  for _ in $(seq 50); do [ -s /tmp/bouncer-bench-nginx.pid ] && break; sleep 0.1; done
  # shellcheck disable=SC2034 # for the script
  nginx_pid="$(cat /tmp/bouncer-bench-nginx.pid)"
}

# Stops the nginx bench_nginx started (waits for its pid file to go).
bench_stop_nginx() {
  [ -n "$bench_nginx" ] && [ -f /tmp/bouncer-bench-nginx.pid ] || return 0
  kill "$(cat /tmp/bouncer-bench-nginx.pid)" 2>/dev/null || true
  for _ in $(seq 50); do [ -f /tmp/bouncer-bench-nginx.pid ] || break; sleep 0.1; done
  bench_nginx=""
}

# ---------------------------------------------------------------- databases

# MariaDB at URL (mysql://[user[:password]@]host[:port][/]): sets my_user, my_pass, my_host,
# my_port and defines sql (the mariadb client there, batch mode, no column names).
bench_mysql() {
  [[ "$1" =~ ^mysql://(([^:@/]+)(:([^@/]*))?@)?([^:/]+)(:([0-9]+))?/?$ ]] \
    || die "MYSQL must look like mysql://user[:pass]@host[:port]"
  my_url="${1%/}" my_user="${BASH_REMATCH[2]:-root}" my_pass="${BASH_REMATCH[4]}"
  my_host="${BASH_REMATCH[5]}" my_port="${BASH_REMATCH[7]:-3306}"
  # shellcheck disable=SC2317 # called by the scripts
  sql() { MYSQL_PWD="$my_pass" mariadb --no-defaults -h"$my_host" -P"$my_port" -u"$my_user" -N -B "$@"; }
}

# DB dropped if it exists and created again (utf8mb4) on the bench_mysql server, dropped
# at exit unless BENCH_KEEP_DB=1. Sets db_url.
bench_fresh_db() {
  [[ "$1" =~ ^[A-Za-z0-9_]+$ ]] || die "DB must be a plain name: $1"
  sql -e "DROP DATABASE IF EXISTS \`$1\`; CREATE DATABASE \`$1\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
  # shellcheck disable=SC2034 # for the script
  db_url="$my_url/$1"
  if [ "${BENCH_KEEP_DB:-0}" != 1 ] && [[ " ${bench_dbs:-} " != *" $1 "* ]]; then
    bench_dbs="${bench_dbs:-} $1"
    bench_on_exit "sql -e 'DROP DATABASE IF EXISTS \`$1\`'"
  fi
}

# The first column of the first row QUERY gives in the SQLite database FILE (python3's
# sqlite3: the sqlite3 command may not be installed).
bench_sqlite() {
  python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"
}

# The benchmark catalogue: BIN_DIR/examples/seed_bench DB_URL MIRRORS LOCATIONS URLS MMDB
# [MIRROR_BASE_TEMPLATE]: every mirror serves every location; one URL per location in
# URLS, a GeoIP database in MMDB. Dies with seed_bench's stderr on failure.
bench_seed() {
  local log="${work:-/tmp}/seed.log"
  "$1/examples/seed_bench" "${@:2}" >/dev/null 2>"$log" || die "seeding failed: $(cat "$log")"
}

# FILES=1 (default: the variable FILES, else 0): a bouncer_files row (size, sha256) for
# every location of DB and language the URLs ask for (files.sql), so redirects carry the
# digest headers. Returns 1 when the schema has no bouncer_files (older builds).
bench_files() {
  [ "$(sql -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$1' AND table_name = 'bouncer_files'")" = 1 ] || return 1
  sql "$1" <"$bench_dir/files.sql"
}

# Polls DB until COUNT bounce instances are registered (unexpired bouncer_instances);
# dies after 10 s.
bench_wait_registered() {
  local n=""
  for _ in $(seq 100); do
    n="$(sql "$1" -e 'SELECT COUNT(*) FROM bouncer_instances WHERE expires_at > UTC_TIMESTAMP()')"
    [ "$n" = "$2" ] && return 0
    sleep 0.1
  done
  die "not every bounce instance registered (${n:-0} of $2)"
}

# ---------------------------------------------------------------- tuxedo

# The account release automation uses: releng, role release, password bench_password.
bench_password="release-password-0123"

# tuxedo migrate and `tuxedo user add releng --role release` with PASSWORD (default
# bench_password), logged to LOG; VAR=value words after it are the environment of both.
bench_tuxedo_init() {
  local log="$1" password="${2:-$bench_password}"; shift 2 || shift
  env "$@" "$bin/tuxedo" migrate >>"$log" 2>&1 || die "tuxedo migrate failed: $(tail -n 3 "$log")"
  echo "$password" | env "$@" "$bin/tuxedo" user add releng --role release >>"$log" 2>&1 \
    || die "tuxedo user add failed: $(tail -n 3 "$log")"
}

# ---------------------------------------------------------------- load, /proc, /metrics

# wrk against BASE rotating over the URLs in the file URLS (rotate.lua, or the script in
# BENCH_SCRIPT), under the client prefix (bench_layout); the rest are wrk's options.
bench_wrk() {
  BENCH_URLS="$1" "${client[@]}" wrk "${@:3}" -s "${BENCH_SCRIPT:-$bench_dir/rotate.lua}" "$2"
}

# CPU of process PID so far, in clock ticks (getconf CLK_TCK a second): "user+system user system".
bench_cpu() { awk '{ print $14 + $15, $14, $15 }' "/proc/$1/stat"; }

# Resident memory of process PID in KiB (VmRSS).
bench_rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# The sum of every series of the metric NAME at http://127.0.0.1:PORT/metrics (memcached
# calls that were skipped or too large left out: no call was made).
bench_metric() {
  curl -s "http://127.0.0.1:$1/metrics" \
    | awk -v m="$2" '$1 ~ "^"m"({|$)" && $1 !~ "result=\"(skipped|too_large)\"" { s += $2 } END { printf "%d", s }'
}

# The median of the numbers on stdin, one a line (the lower middle one of an even count).
bench_median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
