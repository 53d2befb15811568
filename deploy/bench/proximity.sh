#!/usr/bin/env bash
# Proximity replay (issue 32): a synthetic world (bounce/examples/proximity_world.rs: client
# networks and mirrors on a plane, each mirror in its nearest network's region, true round
# trips = distance + detours for a third of the pairs + slowness of some mirrors; what the
# regions' vantages measured = truth ±10 %), and bounce with `proximity` off, prefer and
# blend on it. Per mode: the share of clients sent to a mirror within 1.5 × their
# network's best round trip (over all mirrors) and the mean round trip they get; then CPU
# µs per redirect of off vs prefer in alternating wrk rounds (bounce on core 0, wrk on 1).
# JSON lines on stdout.
#
#   deploy/bench/proximity.sh                 # about 3 minutes
#   ROUNDS=3 SECS=5 BUILD=0 deploy/bench/proximity.sh
#
# Settings: REGIONS=20 MIRRORS=80 SEED=32 CLIENTS=200 (per network), ROUNDS=5 SECS=10
# (alternating wrk rounds per mode), BUILD=1.
. "$(dirname "$0")/lib.sh"; bench_init proximity
REGIONS="${REGIONS:-20}"; MIRRORS="${MIRRORS:-80}"; SEED="${SEED:-32}"
ROUNDS="${ROUNDS:-5}"; SECS="${SECS:-10}"
OFF=8411 PREFER=8412 BLEND=8413
bench_install wrk
bench_ports_free $OFF $PREFER $BLEND
bench_build -p bounce --bin bounce --example proximity_world
bench_workdir proximity
bench_fail_logs=("$work/*.log")
"$bin/examples/proximity_world" "$work" "$REGIONS" "$MIRRORS" "$SEED" >&2

declare -A pids
start() { # port mode (not in a subshell: the process is tracked for the exit trap)
  env BOUNCER_DATABASE__URL="sqlite://$work/world.db" BOUNCER_BOUNCE__LISTEN="127.0.0.1:$1" \
    BOUNCER_GEOIP__DATABASE="$work/geo.mmdb" BOUNCER_BOUNCE__ALLOW_IP_OVERRIDE=true \
    BOUNCER_BOUNCE__PROXIMITY="$2" RUST_LOG=warn \
    taskset -c 0 "$bin/bounce" >>"$work/bounce-$2.log" 2>&1 & bench_track $!
  pids[$2]=$!
  bench_wait_http "http://127.0.0.1:$1/__lbheartbeat__" $!
}
start $OFF off; start $PREFER prefer; start $BLEND blend
for mode in off:$OFF prefer:$PREFER blend:$BLEND; do
  python3 "$bench_dir/proximity_replay.py" shares "$work" "http://127.0.0.1:${mode#*:}" "${mode%:*}"
done
declare -A ports=([off]=$OFF [prefer]=$PREFER)
for mode in off prefer; do # warm both
  BENCH_URLS="$work/urls" taskset -c 1 wrk -t1 -c8 -d2s -s "$bench_dir/rotate.lua" "http://127.0.0.1:${ports[$mode]}" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  for mode in off prefer; do
    before=$(bench_cpu "${pids[$mode]}" | cut -d' ' -f1)
    out=$(BENCH_URLS="$work/urls" taskset -c 1 wrk -t1 -c8 -d"${SECS}s" -s "$bench_dir/rotate.lua" "http://127.0.0.1:${ports[$mode]}")
    after=$(bench_cpu "${pids[$mode]}" | cut -d' ' -f1)
    requests=$(awk '/requests in/ { print $1 }' <<<"$out")
    non2xx=$(awk '/Non-2xx/ { print $4 }' <<<"$out")
    python3 -c 'import json,os,sys; t=int(sys.argv[3])-int(sys.argv[2]); n=int(sys.argv[4]); print(json.dumps({"cpu": sys.argv[1], "round": int(sys.argv[6]), "requests": n, "non_302": int(sys.argv[5] or 0), "cpu_us_per_redirect": round(t / os.sysconf("SC_CLK_TCK") * 1e6 / n, 2)}))' \
      "$mode" "$before" "$after" "$requests" "$non2xx" "$round"
  done
done
