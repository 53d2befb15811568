#!/usr/bin/env bash
# tuxedo under a login flood (issue 29, item 1): CONNS connections each sending TRIES wrong
# Basic logins for unknown accounts, while release automation writes with its own
# credentials; VmRSS of the tuxedo process before, at its peak and after, and the writes'
# statuses. SQLite in a temporary directory, release build.
#
#   deploy/bench/login-flood.sh            # CONNS="32 128" TRIES=8 WRITES=20
. "$(dirname "$0")/lib.sh"; bench_init login-flood.sh
CONNS="${CONNS:-32 128}"; TRIES="${TRIES:-8}"; WRITES="${WRITES:-20}"
PORT=8341
bench_build -p tuxedo
bench_workdir login-flood
export BOUNCER_DATABASE__URL="sqlite://$work/bouncer.db" BOUNCER_TUXEDO__LISTEN="127.0.0.1:$PORT"
bench_tuxedo_init "$work/tuxedo.log"
"$bin/tuxedo" >>"$work/tuxedo.log" 2>&1 & pid=$!
bench_track "$pid"
bench_wait_http "http://127.0.0.1:$PORT/__lbheartbeat__" "$pid"
rss() { echo $(( $(bench_rss_kib "$pid") / 1024 )); }
write() { curl -s -o /dev/null -w '%{http_code}\n' -u "releng:$bench_password" \
  -d "product=Flood-$1" "http://127.0.0.1:$PORT/api/product_add"; }
write warm >/dev/null
for conns in $CONNS; do
  before="$(rss)"; peak="$before"
  ( for c in $(seq "$conns"); do
      ( for _ in $(seq "$TRIES"); do
          curl -s -o /dev/null -w '%{http_code}\n' -u "nouser$c:x" "http://127.0.0.1:$PORT/api/v2/products"
        done ) &
    done; wait ) >"$work/flood-$conns.txt" &
  flood=$!
  ( for i in $(seq "$WRITES"); do write "$conns-$i"; done ) >"$work/writes-$conns.txt" &
  writes=$!
  while kill -0 "$flood" 2>/dev/null || kill -0 "$writes" 2>/dev/null; do
    r="$(rss)"; [ "$r" -gt "$peak" ] && peak="$r"; sleep 0.05
  done
  sleep 1
  printf '{"connections": %s, "tries": %s, "rss_mb_before": %s, "rss_mb_peak": %s, "rss_mb_after": %s, "flood_statuses": "%s", "write_statuses": "%s"}\n' \
    "$conns" "$TRIES" "$before" "$peak" "$(rss)" \
    "$(sort "$work/flood-$conns.txt" | uniq -c | awk '{printf "%s x%s ", $2, $1}')" \
    "$(sort "$work/writes-$conns.txt" | uniq -c | awk '{printf "%s x%s ", $2, $1}')"
done
