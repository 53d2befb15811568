# Shared settings of the local replicated topology (sourced by start.sh, stop.sh, smoke.sh).
# Everything lives under $BOUNCER_TOPOLOGY_DIR (default ./var/topology) and on its own
# ports, so the system MariaDB on 3306 and the test memcached on 11211 are never touched.
#   BOUNCER_TOPOLOGY_DIR        state, datadirs, logs, pid files, env file
#   BOUNCER_TOPOLOGY_PRIMARY    primary's port   (default 3407)
#   BOUNCER_TOPOLOGY_REPLICA    replica's port   (default 3408)
#   BOUNCER_TOPOLOGY_MEMCACHED  two memcached ports, "A B" (default "11311 11312")

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
topo="${BOUNCER_TOPOLOGY_DIR:-$root/var/topology}"
primary_port="${BOUNCER_TOPOLOGY_PRIMARY:-3407}"
replica_port="${BOUNCER_TOPOLOGY_REPLICA:-3408}"
read -r mc1_port mc2_port <<<"${BOUNCER_TOPOLOGY_MEMCACHED:-11311 11312}"
# The replication account; local-only, so a fixed password is fine.
repl_password="bouncer-topology-repl"

say() { printf '== %s\n' "$*"; }
die() { printf 'topology: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid recorded in $1 if that process is still alive (and is ours), else nothing.
live_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Runs SQL on one of our servers as root through its own socket (never a default server).
sql() {
  local name="$1"; shift
  mariadb --no-defaults --socket="$topo/$name/mysqld.sock" -uroot -N -B "$@"
}

for p in "$primary_port" "$replica_port" "$mc1_port" "$mc2_port"; do
  case "$p" in
    3306 | 11211) die "port $p belongs to the system/test services; choose another" ;;
    '' | *[!0-9]*) die "bad port '$p'" ;;
  esac
done

# Starting servers (start.sh, two-regions.sh).
# Waits until `check` succeeds, failing early when the process in pid file $1 died.
wait_for() {
  local pidfile="$1" what="$2" log="$3"; shift 3
  for _ in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -s "$pidfile" ] && ! live_pid "$pidfile" >/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "$what exited during start-up (log: $log)"
    fi
    sleep 0.2
  done
  tail -n 20 "$log" >&2 || true
  die "$what did not become ready within 60 s (log: $log)"
}

# Starts MariaDB server `name` (primary|replica) on `port` with `server_id`, if not running.
start_mariadb() {
  local name="$1" port="$2" server_id="$3" dir="$topo/$1"
  if live_pid "$dir/mysqld.pid" >/dev/null; then
    say "$name already running on 127.0.0.1:$port"
    return 0
  fi
  port_open "$port" && die "port $port is in use by a process this script did not start"
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    say "initialising $name datadir ($dir/data)"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 \
      || { tail -n 20 "$dir/install.log" >&2; die "mariadb-install-db failed for $name"; }
  fi
  local role_args=(--log-bin=binlog --log-slave-updates=ON)
  [[ "$name" == replica* ]] && role_args+=(--relay-log=relay-bin --read-only=ON)
  say "starting $name on 127.0.0.1:$port"
  rm -f "$dir/mysqld.pid"
  setsid mariadbd --no-defaults --user="$user" --datadir="$dir/data" \
    --port="$port" --bind-address=127.0.0.1 --socket="$dir/mysqld.sock" \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --server-id="$server_id" --binlog-format=ROW --gtid-strict-mode=ON \
    --slave-net-timeout=5 --skip-name-resolve --innodb-buffer-pool-size=64M \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    "${role_args[@]}" </dev/null >>"$dir/mariadbd.out" 2>&1 &
  wait_for "$dir/mysqld.pid" "$name" "$dir/error.log" sql "$name" -e 'SELECT 1'
}

start_memcached() {
  local name="$1" port="$2" dir="$topo/$1"
  mkdir -p "$dir"
  if live_pid "$dir/memcached.pid" >/dev/null; then
    say "$name already running on 127.0.0.1:$port"
    return 0
  fi
  port_open "$port" && die "port $port is in use by a process this script did not start"
  say "starting $name on 127.0.0.1:$port"
  memcached -d -u "$user" -l 127.0.0.1 -p "$port" -m 64 -c 1024 -P "$dir/memcached.pid" \
    >>"$dir/memcached.log" 2>&1
  wait_for "$dir/memcached.pid" "$name" "$dir/memcached.log" port_open "$port"
}

