#!/usr/bin/env bash
# Checks that docs/openapi.json describes the server: runs schemathesis (a schema-based
# fuzzer, from PyPI) against a real tuxedo on a scratch SQLite catalogue loaded with the
# demo data, with the checks a generated client relies on — no 5xx, every status code,
# content type, response header and response body as documented.
#   contract-fuzz.sh [MAX_EXAMPLES]   default 30 per operation; seeded, so reruns agree
# Needs a built tuxedo (target/debug or target/release) or cargo, python3 and PyPI.
#   BOUNCER_FUZZ_SCHEMA  another document to check the server against (default: the served one)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
examples="${1:-30}"
version="4.32.5"

tuxedo=()
for d in "${CARGO_TARGET_DIR:-$root/target}/debug" "${CARGO_TARGET_DIR:-$root/target}/release"; do
  [ -x "$d/tuxedo" ] && { tuxedo=("$d/tuxedo"); break; }
done
((${#tuxedo[@]})) || tuxedo=(cargo run -q --manifest-path "$root/Cargo.toml" -p tuxedo --)

venv="${BOUNCER_FUZZ_VENV:-$HOME/.cache/bouncer/schemathesis-$version}"
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export BOUNCER_DATABASE__URL="sqlite://$work/bouncer.db" BOUNCER_TUXEDO__LISTEN="127.0.0.1:$port"
"${tuxedo[@]}" migrate >"$work/tuxedo.log" 2>&1
python3 -c 'import secrets; print(secrets.token_urlsafe(16))' >"$work/password"
"${tuxedo[@]}" user add admin --role admin <"$work/password" >>"$work/tuxedo.log" 2>&1
# The fuzzer's own account and a token id it will not guess: a PATCH that deactivates
# `admin` or a DELETE of token 1 must not lock the rest of the run out.
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", ("bouncer_api_tokens", 7_000_000)); c.commit()' "$work/bouncer.db"
"${tuxedo[@]}" user add fuzzer --role admin <"$work/password" >>"$work/tuxedo.log" 2>&1
token="$("${tuxedo[@]}" token add --user fuzzer --role admin --name contract-fuzz 2>>"$work/tuxedo.log" | tail -n 1)"
"${tuxedo[@]}" >>"$work/tuxedo.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/__lbheartbeat__" >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$here/demo/load_demo.py" "http://127.0.0.1:$port" admin "$(cat "$work/password")" \
  http://127.0.0.1:9/pub http://127.0.0.1:9/na >/dev/null

# Two passes: the operations that can lock the fuzzer out (revoking its token, found in
# GET /tokens; deactivating its account) run last, on their own.
fuzz() {
  "$venv/bin/schemathesis" --no-color run "${BOUNCER_FUZZ_SCHEMA:-http://127.0.0.1:$port/api/v2/openapi.json}" \
    --url "http://127.0.0.1:$port/api/v2" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$examples" --seed 20261202 --workers 2 "$@"
}
lockout=(/tokens/{id} /users/{username})
set +e
fuzz "${lockout[@]/#/--exclude-path=}"
rc=$?
fuzz "${lockout[@]/#/--include-path=}" || rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "== tuxedo's log (last 40 lines)"; tail -n 40 "$work/tuxedo.log"
fi
exit "$rc"
