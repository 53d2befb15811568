#!/usr/bin/env bash
# Two regions for real (issue 28): deploy/topology/two-regions.sh (primary, replica A and
# memcached A in region A; replica B and memcached B in region B; every connection between
# them through a link that adds latency or is cut), tuxedo in A, two bounce instances per
# region, fleet on. JSON lines on stdout, one per scenario:
#   writes at one-way link delays of DELAYS ms (write -> acknowledged, write -> served on
#   each instance, p50/p99; first read right after the ack stale on an instance the ack did
#   not name), the same with replica B LAG seconds behind (MASTER_DELAY), region B cut off
#   for CUT seconds under load with writes every 5 s (5xx on B, convergence after the link
#   is back), and every product/os/lang answer of the four instances against a bounce
#   that reads the primary only.
#
#   deploy/bench/two-regions.sh > two-regions.jsonl            # about 6 minutes
#   WRITES=10 CUT=20 DELAYS="0 100" BUILD=0 deploy/bench/two-regions.sh
#
# Settings: WRITES=30 per scenario, DELAYS="0 100 300", LAG=5, CUT=60, BUILD=1 (0: the
# release binaries already built), KEEP=0 (1: leave the topology running).
. "$(dirname "$0")/lib.sh"; bench_init two-regions
WRITES="${WRITES:-30}"; DELAYS="${DELAYS:-0 100 300}"; LAG="${LAG:-5}"; CUT="${CUT:-60}"
KEEP="${KEEP:-0}"
export BOUNCER_TOPOLOGY_DIR="${BOUNCER_TOPOLOGY_DIR:-$root/var/two-regions}"
topo="$BOUNCER_TOPOLOGY_DIR"
TUX=8301 A1=8311 A2=8312 B1=8321 B2=8322 REF=8331
# Across the link: region B -> tuxedo, tuxedo -> each of region B's instances.
export LINK_PORTS="1$TUX:$TUX 1$B1:$B1 1$B2:$B2"

bench_build -p bounce -p tuxedo
bash deploy/topology/two-regions.sh up
bench_on_exit "bash deploy/topology/two-regions.sh link 0; bash deploy/topology/two-regions.sh lag 0 >/dev/null 2>&1
  [ '$KEEP' = 1 ] || bash deploy/topology/two-regions.sh down >/dev/null 2>&1"
# shellcheck disable=SC1091
. "$topo/env"
db=bouncer_two_regions
bench_mysql "$BOUNCER_TOPOLOGY_PRIMARY_URL"
BENCH_KEEP_DB="$KEEP" bench_fresh_db "$db"

token="two-regions-token-$(date +%s%N)"
common=(BOUNCER_FLEET__TOKEN="$token" BOUNCER_BOUNCE__FALLBACK_BASE_URL=https://fallback.example/pub
  BOUNCER_TUXEDO__GATE_CHECK_SECS=0 BOUNCER_MEMCACHED__PREFIX="tr$(date +%s)")
url() { echo "${1%/}/$db"; }
bench_tuxedo_init "$topo/tuxedo.log" "$bench_password" "${common[@]}" BOUNCER_DATABASE__URL="$db_url"
for os in win win64 osx; do sql "$db" -e "INSERT INTO mirror_os (name, priority) VALUES ('$os', 0)"; done

env "${common[@]}" BOUNCER_DATABASE__URL="$db_url" \
  BOUNCER_MEMCACHED__SERVERS="[\"$BOUNCER_TOPOLOGY_MEMCACHED_A\"]" BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX" \
  "$bin/tuxedo" >>"$topo/tuxedo.log" 2>&1 & bench_track $!
bench_wait_http "http://127.0.0.1:$TUX/__lbheartbeat__" $!
python3 deploy/bench/bouncerscript_aliases.py seed "http://127.0.0.1:$TUX" releng "$bench_password" 2>/dev/null
python3 deploy/bench/bouncerscript_aliases.py aliases "http://127.0.0.1:$TUX" releng "$bench_password" 130.0

bounce() { # port region replica master memcached tuxedo advertise
  env "${common[@]}" BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" \
    BOUNCER_DATABASE__REPLICAS="[\"$(url "$3")\"]" BOUNCER_DATABASE__URL="$(url "$4")" \
    BOUNCER_MEMCACHED__SERVERS="[\"$5\"]" BOUNCER_FLEET__TUXEDO_URLS="[\"$6\"]" \
    BOUNCER_FLEET__ADVERTISE_URL="$7" "$bin/bounce" >>"$topo/bounce-$1.log" 2>&1 & bench_track $!
}
for p in $A1 $A2; do
  bounce "$p" A "$BOUNCER_TOPOLOGY_REPLICA_A_URL" "$BOUNCER_TOPOLOGY_PRIMARY_URL" "$BOUNCER_TOPOLOGY_MEMCACHED_A" \
    "http://127.0.0.1:$TUX" "http://127.0.0.1:$p"
done
for p in $B1 $B2; do
  bounce "$p" B "$BOUNCER_TOPOLOGY_REPLICA_B_URL" "$BOUNCER_TOPOLOGY_PRIMARY_FROM_B_URL" "$BOUNCER_TOPOLOGY_MEMCACHED_B" \
    "http://127.0.0.1:1$TUX" "http://127.0.0.1:1$p"
done
for p in $A1 $A2 $B1 $B2; do bench_wait_http "http://127.0.0.1:$p/__lbheartbeat__"; done
bench_wait_registered "$db" 4
instances=("http://127.0.0.1:$A1" "http://127.0.0.1:$A2" "http://127.0.0.1:$B1|http://127.0.0.1:1$B1" "http://127.0.0.1:$B2|http://127.0.0.1:1$B2")
measure() { python3 deploy/bench/two_regions.py writes "http://127.0.0.1:$TUX" releng "$bench_password" "$WRITES" "$1" "${instances[@]}"; }

for d in $DELAYS; do
  bash deploy/topology/two-regions.sh link "$d"; sleep 1
  say "writes, link one-way delay $d ms"
  measure "link ${d} ms"
done
bash deploy/topology/two-regions.sh link 0
say "writes, replica B $LAG s behind"
bash deploy/topology/two-regions.sh lag "$LAG"; sleep 1
measure "replica B ${LAG} s behind, link 0 ms"
bash deploy/topology/two-regions.sh lag 0
say "region B cut off for $CUT s"
python3 deploy/bench/two_regions.py cut "http://127.0.0.1:$TUX" releng "$bench_password" "$CUT" "$topo/link-control" \
  "http://127.0.0.1:$B1,http://127.0.0.1:$B2" "http://127.0.0.1:$A1,http://127.0.0.1:$A2"
# The reference: a bounce reading the primary only, no memcached.
env BOUNCER_BOUNCE__FALLBACK_BASE_URL=https://fallback.example/pub \
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$REF" BOUNCER_DATABASE__URL="$db_url" \
  "$bin/bounce" >>"$topo/bounce-ref.log" 2>&1 & bench_track $!
bench_wait_http "http://127.0.0.1:$REF/__lbheartbeat__" $!
python3 deploy/bench/two_regions.py agree "http://127.0.0.1:$REF" "http://127.0.0.1:$A1" "http://127.0.0.1:$A2" \
  "http://127.0.0.1:$B1" "http://127.0.0.1:$B2"
