#!/usr/bin/env bash
# Two regions on this machine (issue 28), without Docker or netem:
#   region A: the MariaDB primary, replica A (GTID), memcached A      — tuxedo and sentry here
#   region B: replica B (GTID, replicating from the primary across the link), memcached B
#   the link: deploy/topology/link.py forwarders that add a one-way delay or cut it; every
#             connection between the regions crosses one (replication, region B's reads of
#             the master, tuxedo's calls to region B's bounce instances, their
#             registrations with tuxedo)
#
#   two-regions.sh up            start what is missing (idempotent), link delay 0
#   two-regions.sh link MS       set the link's one-way delay
#   two-regions.sh cut           cut the link (connections closed, new ones refused)
#   two-regions.sh lag SECONDS   replica B applies the primary's writes SECONDS late
#                                (MASTER_DELAY; 0 = none)
#   two-regions.sh down [--purge]
#
# Ports (127.0.0.1): primary 3417, replica A 3418, replica B 3419, memcached A 11321,
# memcached B 11322; link: 13417 -> primary (replication and region B's master reads),
# and the ports given in LINK_PORTS ("listen:target ...", for the services; set by
# deploy/bench/two-regions.sh). State under $BOUNCER_TOPOLOGY_DIR (var/two-regions).
# Writes $topo/env with the URLs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export BOUNCER_TOPOLOGY_DIR="${BOUNCER_TOPOLOGY_DIR:-$root/var/two-regions}"
export BOUNCER_TOPOLOGY_PRIMARY="${BOUNCER_TOPOLOGY_PRIMARY:-3417}"
export BOUNCER_TOPOLOGY_REPLICA="${BOUNCER_TOPOLOGY_REPLICA:-3418}"
export BOUNCER_TOPOLOGY_MEMCACHED="${BOUNCER_TOPOLOGY_MEMCACHED:-11321 11322}"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
command -v mariadbd >/dev/null || PATH="$PATH:/usr/sbin"
user="$(id -un)"
replica_b_port="${BOUNCER_TOPOLOGY_REPLICA_B:-3419}"
link_db_port=$((primary_port + 10000))
control="$topo/link-control"
LINK_PORTS="${LINK_PORTS:-}"

start_link() {
  if live_pid "$topo/link.pid" >/dev/null; then return 0; fi
  [ -f "$control" ] || echo 0 >"$control"
  # shellcheck disable=SC2086
  setsid python3 "$root/deploy/topology/link.py" "$control" "$link_db_port:$primary_port" $LINK_PORTS \
    </dev/null >>"$topo/link.log" 2>&1 &
  echo $! >"$topo/link.pid"
  for _ in $(seq 50); do port_open "$link_db_port" && return 0; sleep 0.1; done
  die "the link did not start (log: $topo/link.log)"
}

setup_replica_b() {
  if [ -z "$(sql replica-b -e 'SHOW SLAVE STATUS')" ]; then
    say "configuring replication primary -> link:$link_db_port -> replica B:$replica_b_port"
    sql replica-b -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$link_db_port,
      MASTER_USER='repl', MASTER_PASSWORD='$repl_password', MASTER_CONNECT_RETRY=1,
      MASTER_USE_GTID=slave_pos"
  fi
  sql replica-b -e 'START SLAVE' 2>/dev/null || true
  local pos caught
  pos="$(sql primary -e 'SELECT @@gtid_binlog_pos')"
  caught="$(sql replica-b -e "SELECT MASTER_GTID_WAIT('$pos', 60)")"
  [ "$caught" = 0 ] || die "replica B did not catch up with $pos within 60 s"
}

case "${1:-}" in
  up)
    bash "$root/deploy/topology/start.sh" >&2
    start_link
    start_mariadb replica-b "$replica_b_port" 3
    setup_replica_b
    cat >"$topo/env" <<ENV
BOUNCER_TOPOLOGY_PRIMARY_URL=mysql://root@127.0.0.1:$primary_port
BOUNCER_TOPOLOGY_PRIMARY_FROM_B_URL=mysql://root@127.0.0.1:$link_db_port
BOUNCER_TOPOLOGY_REPLICA_A_URL=mysql://root@127.0.0.1:$replica_port
BOUNCER_TOPOLOGY_REPLICA_B_URL=mysql://root@127.0.0.1:$replica_b_port
BOUNCER_TOPOLOGY_MEMCACHED_A=127.0.0.1:$mc1_port
BOUNCER_TOPOLOGY_MEMCACHED_B=127.0.0.1:$mc2_port
ENV
    say "two regions up (link control: $control)"
    ;;
  link) echo "${2:?one-way delay in ms}" >"$control" ;;
  cut) echo cut >"$control" ;;
  lag)
    secs="${2:?seconds}"
    sql replica-b -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=$secs; START SLAVE"
    ;;
  down)
    if pid="$(live_pid "$topo/link.pid")"; then kill "$pid"; rm -f "$topo/link.pid"; fi
    if pid="$(live_pid "$topo/replica-b/mysqld.pid")"; then
      kill -TERM "$pid"
      for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    bash "$root/deploy/topology/stop.sh" "${@:2}" >&2
    ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
