#!/usr/bin/env bash
# Proves the running topology replicates: writes a row on the primary over TCP (as the
# services connect), waits for its GTID on the replica, reads it back there, and checks
# both memcached servers answer. Exit 0 = working. Leaves only the `topology_smoke` database.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

on() { local port="$1"; shift; mariadb --no-defaults -h 127.0.0.1 -P "$port" -uroot -N -B "$@"; }
stamp="$(date +%s%N)"
say "primary: CREATE TABLE + INSERT $stamp"
on "$primary_port" <<SQL
CREATE DATABASE IF NOT EXISTS topology_smoke;
CREATE TABLE IF NOT EXISTS topology_smoke.t (id BIGINT PRIMARY KEY, at DATETIME(6) NOT NULL);
INSERT INTO topology_smoke.t VALUES ($stamp, NOW(6));
SQL
pos="$(on "$primary_port" -e 'SELECT @@gtid_binlog_pos')"
say "primary gtid_binlog_pos: $pos"
waited="$(on "$replica_port" -e "SELECT MASTER_GTID_WAIT('$pos', 10)")"
[ "$waited" = 0 ] || die "replica did not reach $pos within 10 s"
say "replica gtid_slave_pos: $(on "$replica_port" -e 'SELECT @@gtid_slave_pos')"
row="$(on "$replica_port" -e "SELECT id FROM topology_smoke.t WHERE id = $stamp")"
[ "$row" = "$stamp" ] || die "row $stamp is not on the replica"
say "replica has the row: $row"
ro="$(on "$replica_port" -e 'SELECT @@read_only')"
[ "$ro" = 1 ] || die "replica is not read-only"
for p in "$mc1_port" "$mc2_port"; do
  reply="$( (exec 3<>"/dev/tcp/127.0.0.1/$p"; printf 'version\r\n' >&3; head -n1 <&3) | tr -d '\r')"
  [[ "$reply" == VERSION* ]] || die "memcached on $p did not answer"
  say "memcached 127.0.0.1:$p: $reply"
done
say "topology OK"
