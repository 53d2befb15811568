#!/usr/bin/env bash
# Runs the whole stack on this machine with no server installed: a SQLite file, logs and
# two small local "mirrors" in ./var, bounce on :8000, tuxedo on :8001, sentry as a daemon
# (:8002). The first run loads a demo catalogue through tuxedo's APIs; a second run reuses
# ./var. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

if ! dpkg -s libmariadb-dev >/dev/null 2>&1; then
  echo "== installing libmariadb-dev (needed to build the MySQL backend)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libmariadb-dev >/dev/null
fi

echo "== building (release; the first build takes a few minutes)"
cargo build --release --locked -q -p bounce -p tuxedo -p sentry
bin="${CARGO_TARGET_DIR:-$root/target}/release"

mkdir -p var
cd var
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
wait_up() { for _ in $(seq 100); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not come up (see var/*.log)" >&2; exit 1; }

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

== Bouncer is running (data and logs in var/)
   bounce    $try
             $(curl -s -o /dev/null -w '→ %{http_code} %{redirect_url}' "$try")
             http://127.0.0.1:8000/?product=firefox-stub&os=osx&lang=fr&print=yes
             (the -ssl products answer 404 here: the demo mirrors are http, and bounce never
             downgrades an https-only product)
             http://127.0.0.1:8000/__heartbeat__   http://127.0.0.1:8000/metrics
   tuxedo    http://127.0.0.1:8001/api/product_show?product=Firefox-130.0
             http://127.0.0.1:8001/api/v2/mirrors   (login: admin / $password)
   sentry    checks the two demo mirrors every 60 s; http://127.0.0.1:8002/metrics
   mirrors   http://127.0.0.1:8010/pub (Europe), http://127.0.0.1:8011/pub (North America)
   logs      var/bounce.log var/tuxedo.log var/sentry.log (JSON lines)
   Ctrl-C stops everything; a second run reuses var/.
INFO
wait
