#!/usr/bin/env bash
# The full test suite: installs and starts what it needs (memcached, MariaDB client
# library), then checks formatting and lints, then runs every test on MariaDB and SQLite.
#   BOUNCER_TEST_MYSQL_URL   MariaDB server for tests (default mysql://root@127.0.0.1:3306)
#   BOUNCER_TEST_MEMCACHED   memcached for tests      (default 127.0.0.1:11211)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" "$2" && return 0; sleep 0.5; done; return 1; }

# 1. System packages: diesel's mysql feature links libmariadb; the tests need memcached.
missing=()
dpkg -s libmariadb-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || missing+=(libsqlite3-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v memcached >/dev/null || missing+=(memcached)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 1b. Headless Chromium for tuxedo's web UI end-to-end test (tuxedo/tests/it/ui_browser.rs
#     drives it through chromedriver). Debian's packages, installed when missing.
browser=()
command -v chromium >/dev/null || browser+=(chromium)
command -v chromedriver >/dev/null || browser+=(chromium-driver)
if ((${#browser[@]})); then
  say "installing ${browser[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${browser[@]}" >/dev/null
fi

# 1c. Real clients of bounce's mirror lists (bounce/tests/it/documents.rs): aria2c
#     downloads through the Metalink; jing validates it against RFC 5854's grammar.
clients=()
command -v aria2c >/dev/null || clients+=(aria2)
command -v jing >/dev/null || clients+=(jing)
if ((${#clients[@]})); then
  say "installing ${clients[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${clients[@]}" >/dev/null
fi

# 2. memcached for the cache tests.
mc="${BOUNCER_TEST_MEMCACHED:-127.0.0.1:11211}"
if ! port_open "${mc%:*}" "${mc##*:}"; then
  say "starting memcached on $mc"
  memcached -d -u "$(id -un)" -l "${mc%:*}" -p "${mc##*:}" -m 64 -c 1024
  wait_port "${mc%:*}" "${mc##*:}" || { echo "memcached did not start on $mc" >&2; exit 1; }
fi

# 3. MariaDB: start it when installed but stopped; say clearly when it is missing.
mysql_url="${BOUNCER_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}"
hostport="${mysql_url#*://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
db_host="${hostport%:*}"; db_port="${hostport##*:}"
if ! port_open "$db_host" "$db_port"; then
  if [ -x /usr/sbin/mariadbd ] && [ "$db_host" = "127.0.0.1" ]; then
    say "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port "$db_host" "$db_port" || { echo "MariaDB did not come up on $hostport" >&2; exit 1; }
  else
    echo "MariaDB is not reachable at $hostport and is not installed here." >&2
    echo "Install it (apt-get install mariadb-server) or point BOUNCER_TEST_MYSQL_URL at a server." >&2
    exit 1
  fi
fi
# Databases left behind by an interrupted earlier run.
if command -v mariadb >/dev/null && [ "$db_host" = "127.0.0.1" ]; then
  for d in $(mariadb -h "$db_host" -P "$db_port" -uroot -N -e \
      "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'bt\\_%'" 2>/dev/null); do
    mariadb -h "$db_host" -P "$db_port" -uroot -e "DROP DATABASE \`$d\`" || true
  done
fi

# 4. Format, lints, tests.
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "cargo test"
log="$(mktemp)"
# The replicated-topology test starts deploy/topology (MariaDB primary + replica, two
# memcached) on its own ports; stop it afterwards.
trap 'rm -f "$log"; bash deploy/topology/stop.sh >/dev/null 2>&1 || true' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line over every test binary (cargo prints one per binary, doc tests last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"

# 5. The legacy import on the real MariaDB (deploy/import/selftest.sh: the original schema
#    and go-bouncer's five-table shape), with the tuxedo the tests just built.
if command -v mariadb >/dev/null; then
  say "legacy import selftest"
  bash deploy/import/selftest.sh -- --no-defaults -h "$db_host" -P "$db_port" -u root
else
  echo "mariadb client not installed: legacy import selftest skipped" >&2
fi

# 6. The JSON API's contract: schemathesis against the served docs/openapi.json
#    (deploy/contract-fuzz.sh: a bounded, seeded number of cases per operation).
say "OpenAPI contract fuzz"
bash deploy/contract-fuzz.sh 30

# 7. The README quickstart, as a newcomer might run it: started in the background, then
#    interrupted with SIGINT. Everything it started must be gone (issue 30). Uses the
#    debug binaries the tests just built and a data directory of its own.
say "quickstart: started in the background, interrupted"
stack_ports=(8000 8001 8002 8010 8011)
for p in "${stack_ports[@]}"; do
  if port_open 127.0.0.1 "$p"; then echo "port $p is taken: cannot try the quickstart" >&2; exit 1; fi
done
cargo build --locked -q -p bounce -p tuxedo -p sentry  # before the clock below starts
stack_dir="$(mktemp -d /tmp/bouncer-stack.XXXXXX)"
BOUNCER_STACK_PROFILE=debug BOUNCER_STACK_DIR="$stack_dir" ./deploy/run-stack.sh >"$stack_dir/out" 2>&1 &
stack=$!
for _ in $(seq 600); do
  grep -q "Bouncer is running" "$stack_dir/out" && break
  kill -0 "$stack" 2>/dev/null || { cat "$stack_dir/out" >&2; echo "run-stack.sh exited early" >&2; exit 1; }
  sleep 0.5
done
grep -q "Bouncer is running" "$stack_dir/out" || { cat "$stack_dir/out" >&2; echo "run-stack.sh did not come up" >&2; exit 1; }
curl -sf -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:8000/?product=firefox-latest&os=win64&lang=de" | grep -qx 302 \
  || { echo "the quickstart's bounce does not redirect" >&2; exit 1; }
kill -INT "$stack"
left=()
for _ in $(seq 60); do kill -0 "$stack" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$stack" 2>/dev/null; then
  left+=("run-stack.sh (SIGINT ignored)")
  kill -TERM "$stack"
fi
wait "$stack" 2>/dev/null || true
for p in "${stack_ports[@]}"; do port_open 127.0.0.1 "$p" && left+=("port $p"); done
pgrep -f "http.server 801[01]" >/dev/null && left+=("demo mirrors")
if ((${#left[@]})); then
  echo "after SIGINT still running: ${left[*]}" >&2
  pkill -f "http.server 801[01]" || true
  exit 1
fi
rm -rf "$stack_dir"
echo "quickstart: up, redirecting, and gone after SIGINT"
