#!/usr/bin/env bash
# Runs the whole stack on this machine with no server installed: a SQLite file, logs and
# two small local "mirrors" in ./var, bounce on :8000, tuxedo on :8001, sentry as a daemon
# (:8002). The first run loads a demo catalogue through tuxedo's APIs; a second run reuses
# ./var. Ctrl-C (SIGINT), SIGTERM or the script's own exit stops everything, however it was
# started. Needs: Rust >= 1.85 (cargo), python3, curl.
#   BOUNCER_STACK_DIR      where data, logs and demo mirrors go (default ./var)
#   BOUNCER_STACK_PROFILE  release (default) or debug (the binaries the test suite built)
set -euo pipefail

# Started in the background by a non-interactive shell (`./run-stack.sh &` in a script),
# bash inherits SIGINT ignored and may not trap a signal ignored at entry, so an interrupt
# would leave the services and mirrors running. Re-exec once with SIGINT at its default so
# the trap below applies.
sigign="$(awk '/^SigIgn:/ { print $2 }' "/proc/$$/status" 2>/dev/null || echo 0)"
if [ -z "${BOUNCER_STACK_REEXEC:-}" ] && (((16#${sigign:-0} & 2) != 0)); then
  export BOUNCER_STACK_REEXEC=1
  exec python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi

cd "$(dirname "$0")/.."
root="$PWD"
for cmd in cargo python3 curl; do
  command -v "$cmd" >/dev/null || { echo "run-stack.sh: $cmd is needed (Rust >= 1.85, python3, curl)" >&2; exit 1; }
done

if ! dpkg -s libmariadb-dev >/dev/null 2>&1; then
  echo "== installing libmariadb-dev (needed to build the MySQL backend)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libmariadb-dev >/dev/null
fi

profile="${BOUNCER_STACK_PROFILE:-release}"
case "$profile" in
  release) echo "== building (release: the first build compiles ~400 crates, 10-20 minutes on 2 cores; later ones seconds)"
           cargo build --release --locked -p bounce -p tuxedo -p sentry ;;
  debug) cargo build --locked -p bounce -p tuxedo -p sentry ;;
  *) echo "run-stack.sh: BOUNCER_STACK_PROFILE is release or debug" >&2; exit 1 ;;
esac
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"

stack_dir="${BOUNCER_STACK_DIR:-$root/var}"
mkdir -p "$stack_dir"
cd "$stack_dir"
export BOUNCER_DATABASE__URL="sqlite://$PWD/bouncer.db"
export BOUNCER_SENTRY__INTERVAL_SECS=60
"$bin/tuxedo" migrate >>tuxedo.log 2>&1

# The admin account of this demo; its password is kept in var/admin-password.
if [ ! -s admin-password ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > admin-password)
  "$bin/tuxedo" user add admin --role admin < admin-password >>tuxedo.log 2>&1
fi
password="$(cat admin-password)"

# The fleet's shared secret: bounce registers with tuxedo, and every write through tuxedo
# is acknowledged once bounce serves it (docs/operations.md, "Read-your-writes").
if [ ! -s fleet-token ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > fleet-token)
fi
export BOUNCER_FLEET__TOKEN="$(cat fleet-token)"
export BOUNCER_FLEET__TUXEDO_URLS='["http://127.0.0.1:8001"]'

# Two local mirrors carrying the demo files (sentry probes them like real ones).
for m in eu na; do
  for dir in win32 win64 mac linux-x86_64; do
    for lang in en-US de fr; do
      d="mirror-$m/pub/firefox/releases/130.0/$dir/$lang"
      mkdir -p "$d"
      case $dir in
        win*) f="Firefox Setup 130.0.exe" ;; mac) f="Firefox 130.0.dmg" ;; *) f="firefox-130.0.tar.bz2" ;;
      esac
      [ -f "$d/$f" ] || echo "demo file from mirror $m" > "$d/$f"
    done
  done
done

pids=()
stop() { trap - INT TERM EXIT; echo; echo "== stopping"; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT
wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not come up (see $stack_dir/*.log)" >&2; exit 1; }

python3 -m http.server 8010 --bind 127.0.0.1 --directory mirror-eu >>mirrors.log 2>&1 & pids+=($!)
python3 -m http.server 8011 --bind 127.0.0.1 --directory mirror-na >>mirrors.log 2>&1 & pids+=($!)
"$bin/tuxedo" >>tuxedo.log 2>&1 & pids+=($!)
wait_up http://127.0.0.1:8001/__lbheartbeat__

if [ ! -f demo-loaded ]; then
  echo "== loading the demo catalogue through tuxedo's APIs"
  python3 "$root/deploy/demo/load_demo.py" http://127.0.0.1:8001 admin "$password" \
    http://127.0.0.1:8010/pub http://127.0.0.1:8011/pub
  "$bin/tuxedo" rules load "$root/deploy/rewrite-rules.json" >>tuxedo.log 2>&1
  touch demo-loaded
fi
echo "== first mirror check (sentry run --once)"
"$bin/sentry" run --once --checkall >>sentry.log 2>&1
"$bin/bounce" >>bounce.log 2>&1 & pids+=($!)
"$bin/sentry" daemon >>sentry.log 2>&1 & pids+=($!)
wait_up http://127.0.0.1:8000/__lbheartbeat__

try="http://127.0.0.1:8000/?product=firefox-latest&os=win64&lang=de"
cat <<INFO

== Bouncer is running (data and logs in $stack_dir)
   bounce    $try
             $(curl -s -o /dev/null -w '→ %{http_code} %{redirect_url}' "$try")
             http://127.0.0.1:8000/?product=firefox-stub&os=osx&lang=fr&print=yes
             (the -ssl products answer 404 here: the demo mirrors are http, and bounce never
             downgrades an https-only product)
             http://127.0.0.1:8000/__heartbeat__   http://127.0.0.1:8000/metrics
   tuxedo    http://127.0.0.1:8001/api/product_show?product=Firefox-130.0
             http://127.0.0.1:8001/ui/   the web UI (login: admin / $password)
             http://127.0.0.1:8001/api/v2/mirrors   (the JSON API, same login)
   sentry    checks the two demo mirrors every 60 s; http://127.0.0.1:8002/metrics
   mirrors   http://127.0.0.1:8010/pub (Europe), http://127.0.0.1:8011/pub (North America)
   logs      bounce.log tuxedo.log sentry.log in $stack_dir (JSON lines)
   Ctrl-C stops everything; a second run reuses $stack_dir.
INFO
wait
