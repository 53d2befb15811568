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
