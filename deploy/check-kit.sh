#!/usr/bin/env bash
# Checks the deployment kit with the real tools where they are installed (each check says
# SKIP when its tool is missing): systemd units (systemd-analyze verify), the nginx
# configs (nginx -t with throwaway self-signed certificates), the compose file (YAML and
# its service graph), and the syntax of every deploy script. Needs built binaries for the
# unit check (target/release or target/debug). Exit 0 = every check that ran passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
ok() { printf 'ok    %s\n' "$*"; }
skip() { printf 'SKIP  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failed=1; }

# 1. Shell scripts parse.
for f in deploy/topology/*.sh deploy/import/*.sh deploy/check-kit.sh; do
  bash -n "$f" && ok "bash -n $f" || fail "bash -n $f"
done
sh -n deploy/container/entrypoint.sh && ok "sh -n deploy/container/entrypoint.sh" || fail "entrypoint.sh"

# 2. systemd units, with ExecStart pointed at the built binaries (verify needs them to exist).
bin=""
for d in "${CARGO_TARGET_DIR:-target}/release" "${CARGO_TARGET_DIR:-target}/debug"; do
  [ -x "$d/bounce" ] && [ -x "$d/tuxedo" ] && [ -x "$d/sentry" ] && { bin="$(cd "$d" && pwd)"; break; }
done
if ! command -v systemd-analyze >/dev/null; then
  skip "systemd units (no systemd-analyze)"
elif [ -z "$bin" ]; then
  skip "systemd units (build bounce, tuxedo and sentry first)"
else
  mkdir -p "$work/units"
  for f in deploy/systemd/*.service deploy/systemd/*.timer; do
    sed "s|/usr/local/bin/|$bin/|" "$f" >"$work/units/$(basename "$f")"
  done
  out="$(cd "$work/units" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)" || true
  [ -z "$out" ] && ok "systemd-analyze verify deploy/systemd/*" || fail "systemd units: $out"
fi

# 3. nginx: the production front end and the compose one, in a wrapper http{} block.
if ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
  skip "nginx configs (no nginx or openssl)"
else
  mkdir -p "$work/nginx/ssl" "$work/nginx/logs"
  for n in download.example.org admin.download.example.org; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$n" \
      -keyout "$work/nginx/ssl/$n.key" -out "$work/nginx/ssl/$n.crt" 2>/dev/null
  done
  sed -e "s|/etc/ssl/bouncer/|$work/nginx/ssl/|; s|/var/cache/nginx/bounce|$work/nginx/cache|" \
      -e "s|/var/log/nginx/|$work/nginx/logs/|" deploy/nginx/bouncer.conf >"$work/nginx/bouncer.conf"
  # The compose hosts do not resolve here; only the syntax is checked.
  sed 's/bounce-[12]:8000/127.0.0.1:8000/' deploy/container/nginx.conf >"$work/nginx/compose.conf"
  for conf in bouncer.conf compose.conf; do
    cat >"$work/nginx/wrap-$conf" <<EOF
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path $work/nginx/t1; proxy_temp_path $work/nginx/t2;
  fastcgi_temp_path $work/nginx/t3; uwsgi_temp_path $work/nginx/t4; scgi_temp_path $work/nginx/t5;
  include $work/nginx/$conf;
}
EOF
    if out="$(nginx -t -q -c "$work/nginx/wrap-$conf" -p "$work/nginx" 2>&1)"; then
      ok "nginx -t $conf"
    else
      fail "nginx -t $conf: $out"
    fi
  done
fi

# 4. compose.yaml: valid YAML, every service built from the one image runs a known command,
#    and every depends_on names a service.
if ! python3 -c 'import yaml' 2>/dev/null; then
  skip "compose.yaml (python3 with PyYAML needed)"
elif python3 - "$root/deploy/container/compose.yaml" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
expected = {"mariadb", "memcached-1", "memcached-2", "migrate", "tuxedo", "bounce-1", "bounce-2", "sentry", "nginx"}
assert set(services) == expected, sorted(services)
for name, s in services.items():
    for dep in (s.get("depends_on") or {}):
        assert dep in services, f"{name} depends on unknown {dep}"
    if s.get("image") == "bouncer:latest":
        assert s["command"][0] in ("bounce", "tuxedo", "sentry"), (name, s["command"])
        assert s["environment"]["BOUNCER_DATABASE__URL"].startswith("mysql://")
assert services["nginx"]["profiles"] == ["nginx"]
EOF
then
  ok "compose.yaml"
else
  fail "compose.yaml"
fi

exit "$failed"
