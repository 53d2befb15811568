#!/usr/bin/env bash
# Runs the whole stack on this machine with no server installed: SQLite file and logs in
# ./var, bounce on :8000, tuxedo on :8001, sentry as a daemon.
# Ctrl-C stops everything. A second run reuses ./var/bouncer.db.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if ! dpkg -s libmariadb-dev >/dev/null 2>&1; then
  echo "== installing libmariadb-dev (needed to build the MySQL backend)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libmariadb-dev >/dev/null
fi

echo "== building (release)"
cargo build --release --locked -p bounce -p tuxedo -p sentry
bin="${CARGO_TARGET_DIR:-$root/target}/release"

mkdir -p var
cd var
export BOUNCER_DATABASE__URL="sqlite://$PWD/bouncer.db"
"$bin/tuxedo" migrate >>tuxedo.log 2>&1

pids=()
stop() { echo; echo "== stopping"; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT
"$bin/tuxedo" >>tuxedo.log 2>&1 & pids+=($!)
"$bin/bounce" >>bounce.log 2>&1 & pids+=($!)
"$bin/sentry" daemon >>sentry.log 2>&1 & pids+=($!)

cat <<INFO
== Bouncer is running (data: var/bouncer.db, logs: var/*.log)
   bounce   http://127.0.0.1:8000/?product=firefox-latest&os=win&lang=en-US
            http://127.0.0.1:8000/__heartbeat__
   tuxedo   http://127.0.0.1:8001/__heartbeat__
   sentry   daemon, one run every 300 s (var/sentry.log)
   Ctrl-C stops everything.
INFO
wait
