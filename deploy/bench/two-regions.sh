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
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
WRITES="${WRITES:-30}"; DELAYS="${DELAYS:-0 100 300}"; LAG="${LAG:-5}"; CUT="${CUT:-60}"
BUILD="${BUILD:-1}"; KEEP="${KEEP:-0}"
export BOUNCER_TOPOLOGY_DIR="${BOUNCER_TOPOLOGY_DIR:-$root/var/two-regions}"
topo="$BOUNCER_TOPOLOGY_DIR"
TUX=8301 A1=8311 A2=8312 B1=8321 B2=8322 REF=8331
# Across the link: region B -> tuxedo, tuxedo -> each of region B's instances.
export LINK_PORTS="1$TUX:$TUX 1$B1:$B1 1$B2:$B2"
say() { printf 'two-regions: %s\n' "$*" >&2; }
wait_up() { for _ in $(seq 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; say "$1 did not come up"; exit 1; }

if [ "$BUILD" = 1 ]; then
  say "building bounce and tuxedo (release)"
  cargo build --release --locked -q -p bounce -p tuxedo
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release"
bash deploy/topology/two-regions.sh up
# shellcheck disable=SC1091
. "$topo/env"
db=bouncer_two_regions
primary() { mariadb --no-defaults -h 127.0.0.1 -P "${BOUNCER_TOPOLOGY_PRIMARY_URL##*:}" -uroot "$@"; }
primary -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db"

pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true
  bash deploy/topology/two-regions.sh link 0 || true
  bash deploy/topology/two-regions.sh lag 0 >/dev/null 2>&1 || true
  [ "$KEEP" = 1 ] || bash deploy/topology/two-regions.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT
token="two-regions-token-$(date +%s%N)"
common=(BOUNCER_FLEET__TOKEN="$token" BOUNCER_BOUNCE__FALLBACK_BASE_URL=https://fallback.example/pub
  BOUNCER_TUXEDO__GATE_CHECK_SECS=0 BOUNCER_MEMCACHED__PREFIX="tr$(date +%s)")
url() { echo "${1%/}/$db"; }
env "${common[@]}" BOUNCER_DATABASE__URL="$(url "$BOUNCER_TOPOLOGY_PRIMARY_URL")" "$bin/tuxedo" migrate >>"$topo/tuxedo.log" 2>&1
echo "release-password-0123" | env "${common[@]}" BOUNCER_DATABASE__URL="$(url "$BOUNCER_TOPOLOGY_PRIMARY_URL")" \
  "$bin/tuxedo" user add releng --role release >>"$topo/tuxedo.log" 2>&1
for os in win win64 osx; do primary "$db" -e "INSERT INTO mirror_os (name, priority) VALUES ('$os', 0)"; done

env "${common[@]}" BOUNCER_DATABASE__URL="$(url "$BOUNCER_TOPOLOGY_PRIMARY_URL")" \
  BOUNCER_MEMCACHED__SERVERS="[\"$BOUNCER_TOPOLOGY_MEMCACHED_A\"]" BOUNCER_TUXEDO__LISTEN="127.0.0.1:$TUX" \
  "$bin/tuxedo" >>"$topo/tuxedo.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$TUX/__lbheartbeat__"
python3 deploy/bench/bouncerscript_aliases.py seed "http://127.0.0.1:$TUX" releng release-password-0123 2>/dev/null
python3 - "http://127.0.0.1:$TUX" <<'PY'
import base64, sys, urllib.parse, urllib.request
for alias, product in [("firefox-latest", "Firefox-130.0"), ("firefox-latest-ssl", "Firefox-130.0-SSL"), ("firefox-stub", "Firefox-130.0-stub")]:
    req = urllib.request.Request(f"{sys.argv[1]}/api/create_update_alias", method="POST",
        data=urllib.parse.urlencode({"alias": alias, "related_product": product}).encode())
    req.add_header("Authorization", "Basic " + base64.b64encode(b"releng:release-password-0123").decode())
    urllib.request.urlopen(req).read()
PY

bounce() { # port region replica master memcached tuxedo advertise
  env "${common[@]}" BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" \
    BOUNCER_DATABASE__REPLICAS="[\"$(url "$3")\"]" BOUNCER_DATABASE__URL="$(url "$4")" \
    BOUNCER_MEMCACHED__SERVERS="[\"$5\"]" BOUNCER_FLEET__TUXEDO_URLS="[\"$6\"]" \
    BOUNCER_FLEET__ADVERTISE_URL="$7" "$bin/bounce" >>"$topo/bounce-$1.log" 2>&1 & pids+=($!)
}
for p in $A1 $A2; do
  bounce "$p" A "$BOUNCER_TOPOLOGY_REPLICA_A_URL" "$BOUNCER_TOPOLOGY_PRIMARY_URL" "$BOUNCER_TOPOLOGY_MEMCACHED_A" \
    "http://127.0.0.1:$TUX" "http://127.0.0.1:$p"
done
for p in $B1 $B2; do
  bounce "$p" B "$BOUNCER_TOPOLOGY_REPLICA_B_URL" "$BOUNCER_TOPOLOGY_PRIMARY_FROM_B_URL" "$BOUNCER_TOPOLOGY_MEMCACHED_B" \
    "http://127.0.0.1:1$TUX" "http://127.0.0.1:1$p"
done
for p in $A1 $A2 $B1 $B2; do wait_up "http://127.0.0.1:$p/__lbheartbeat__"; done
for _ in $(seq 100); do
  n="$(primary "$db" -N -e 'SELECT COUNT(*) FROM bouncer_instances WHERE expires_at > UTC_TIMESTAMP()')"
  [ "$n" = 4 ] && break; sleep 0.1
done
[ "$n" = 4 ] || { say "not every bounce instance registered ($n of 4)"; exit 1; }
instances=("http://127.0.0.1:$A1" "http://127.0.0.1:$A2" "http://127.0.0.1:$B1|http://127.0.0.1:1$B1" "http://127.0.0.1:$B2|http://127.0.0.1:1$B2")
measure() { python3 deploy/bench/two_regions.py writes "http://127.0.0.1:$TUX" releng release-password-0123 "$WRITES" "$1" "${instances[@]}"; }

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
python3 deploy/bench/two_regions.py cut "http://127.0.0.1:$TUX" releng release-password-0123 "$CUT" "$topo/link-control" \
  "http://127.0.0.1:$B1,http://127.0.0.1:$B2" "http://127.0.0.1:$A1,http://127.0.0.1:$A2"
# The reference: a bounce reading the primary only, no memcached.
env BOUNCER_BOUNCE__FALLBACK_BASE_URL=https://fallback.example/pub \
  BOUNCER_BOUNCE__LISTEN="127.0.0.1:$REF" BOUNCER_DATABASE__URL="$(url "$BOUNCER_TOPOLOGY_PRIMARY_URL")" \
  "$bin/bounce" >>"$topo/bounce-ref.log" 2>&1 & pids+=($!)
wait_up "http://127.0.0.1:$REF/__lbheartbeat__"
python3 deploy/bench/two_regions.py agree "http://127.0.0.1:$REF" "http://127.0.0.1:$A1" "http://127.0.0.1:$A2" \
  "http://127.0.0.1:$B1" "http://127.0.0.1:$B2"
