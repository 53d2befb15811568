#!/usr/bin/env bash
# Starts a replicated topology on this machine, without Docker: a MariaDB primary and a
# replica (GTID replication) on their own ports and datadirs, and two memcached servers.
# Idempotent: what already runs is kept, what is missing is (re)started, so after
# `stop.sh replica` a second run brings the replica back and it catches up.
# Settings and safety rules: deploy/topology/lib.sh. Stop with deploy/topology/stop.sh.
# Prints the URLs and writes them to $BOUNCER_TOPOLOGY_DIR/env for tests to source.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

command -v mariadbd >/dev/null || PATH="$PATH:/usr/sbin"
for tool in mariadbd mariadb-install-db mariadb memcached; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install mariadb-server memcached)"
done
user="$(id -un)"
mkdir -p "$topo"

# Accounts the services and tests use, created on the primary so they replicate.
setup_primary() {
  sql primary <<SQL
CREATE USER IF NOT EXISTS 'repl'@'127.0.0.1' IDENTIFIED BY '$repl_password';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
SQL
}

# Points the replica at the primary once (GTID: it resumes from its own position), starts it.
setup_replica() {
  if [ -z "$(sql replica -e 'SHOW SLAVE STATUS')" ]; then
    say "configuring replication primary:$primary_port -> replica:$replica_port"
    sql replica -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary_port,
      MASTER_USER='repl', MASTER_PASSWORD='$repl_password', MASTER_CONNECT_RETRY=1,
      MASTER_USE_GTID=slave_pos"
  fi
  sql replica -e 'START SLAVE' 2>/dev/null || true
  local status
  for _ in $(seq 1 150); do
    status="$(sql replica --column-names -e 'SHOW SLAVE STATUS\G')"
    if grep -q 'Slave_IO_Running: Yes' <<<"$status" && grep -q 'Slave_SQL_Running: Yes' <<<"$status"; then
      break
    fi
    sleep 0.2
  done
  grep -q 'Slave_SQL_Running: Yes' <<<"$status" && grep -q 'Slave_IO_Running: Yes' <<<"$status" \
    || { grep -E 'Running|Last_.*Error' <<<"$status" >&2; die "replication did not start"; }
  # Caught up with everything the primary has written so far.
  local pos caught
  pos="$(sql primary -e 'SELECT @@gtid_binlog_pos')"
  caught="$(sql replica -e "SELECT MASTER_GTID_WAIT('$pos', 30)")"
  [ "$caught" = 0 ] || die "replica did not catch up with $pos within 30 s"
}

start_mariadb primary "$primary_port" 1
setup_primary
start_mariadb replica "$replica_port" 2
setup_replica
start_memcached memcached-1 "$mc1_port"
start_memcached memcached-2 "$mc2_port"

cat >"$topo/env" <<ENV
BOUNCER_TOPOLOGY_PRIMARY_URL=mysql://root@127.0.0.1:$primary_port
BOUNCER_TOPOLOGY_REPLICA_URL=mysql://root@127.0.0.1:$replica_port
BOUNCER_TOPOLOGY_MEMCACHED_SERVERS=127.0.0.1:$mc1_port,127.0.0.1:$mc2_port
ENV
cat <<INFO
== topology is up (state and logs in $topo)
   primary    mysql://root@127.0.0.1:$primary_port   (writes: tuxedo, sentry)
   replica    mysql://root@127.0.0.1:$replica_port   (reads: bounce; GTID replication, read-only)
   memcached  127.0.0.1:$mc1_port 127.0.0.1:$mc2_port
   env file   $topo/env
   stop       deploy/topology/stop.sh [primary|replica|memcached] [--purge]
INFO
