#!/usr/bin/env bash
# Stops what deploy/topology/start.sh started, and nothing else: only processes whose pid
# is in the topology's own pid files and whose command line names the topology's datadir
# or port. Usage: stop.sh [primary] [replica] [memcached] [--purge]
# No component = all. --purge also deletes the topology directory (datadirs included).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

purge=false
targets=()
for arg in "$@"; do
  case "$arg" in
    --purge) purge=true ;;
    primary | replica | memcached) targets+=("$arg") ;;
    *) die "unknown argument '$arg' (primary, replica, memcached, --purge)" ;;
  esac
done
((${#targets[@]})) || targets=(primary replica memcached)

# Sends TERM to the pid in $1 if its command line contains $2, and waits for it to exit.
stop_pid() {
  local pidfile="$1" marker="$2" what="$3" pid
  if ! pid="$(live_pid "$pidfile")"; then
    say "$what is not running"
    return 0
  fi
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"; then
    die "pid $pid in $pidfile is not $what (the pid was reused); not touching it"
  fi
  say "stopping $what (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
    sleep 0.2
  done
  die "$what (pid $pid) did not stop within 60 s"
}

for t in "${targets[@]}"; do
  case "$t" in
    primary | replica) stop_pid "$topo/$t/mysqld.pid" "--datadir=$topo/$t/data" "$t" ;;
    memcached)
      stop_pid "$topo/memcached-1/memcached.pid" "-p $mc1_port" memcached-1
      stop_pid "$topo/memcached-2/memcached.pid" "-p $mc2_port" memcached-2
      ;;
  esac
done

if $purge; then
  for f in primary/mysqld.pid replica/mysqld.pid memcached-1/memcached.pid memcached-2/memcached.pid; do
    live_pid "$topo/$f" >/dev/null && die "${f%%/*} still runs; stop it before --purge"
  done
  say "removing $topo"
  rm -rf "$topo"
fi
