#!/usr/bin/env python3
"""Helpers of deploy/bench/release-day.sh (standard library only).

  fake-mirrors  HEAD/GET server for every seeded mirror (/m<j>/...), one flapping and one
                ramping mirror
  publish       sets <prefix>:generation:catalogue in memcached (as a writer does)
  warm          loads every URL until an instance's cache fills stop moving
  load          one measured run: wrk against each target, optionally with writes (JSON
                API paths, XML API release) or RSS sampling; appends a JSON line
  report        prints the Markdown table from the collected JSON lines
"""
import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

from benchlib import basic_auth, cpu_seconds, mc_get, mc_set, rss_mib

OSES = ["win", "win64", "osx", "linux", "linux64"]

# 100 locales as Firefox ships them (en-US is added with the product, the rest after).
LOCALES = (
    "en-US ach af an ar ast az be bg bn br bs ca ca-valencia cak cs cy da de dsb el en-CA "
    "en-GB eo es-AR es-CL es-ES es-MX et eu fa ff fi fr fur fy-NL ga-IE gd gl gn gu-IN he "
    "hi-IN hr hsb hu hy-AM ia id is it ja ka kab kk km kn ko lij lo lt lv mk mr ms "
    "my nb-NO ne-NP nl nn-NO oc pa-IN pl pt-BR pt-PT rm ro ru sco si sk sl son sq "
    "sr sv-SE ta te tg th tl trs tr uk ur uz vi xh zh-CN zh-TW"
).split()
assert len(LOCALES) == 100, len(LOCALES)


def log(*args):
    print("release-day:", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- fake mirrors


def fake_mirrors(a):
    """Every mirror is /m<j> on one server. The base-URL HEAD of a run (path exactly /m<j>)
    advances that mirror's run counter; the flapping mirror is down (503) every other run,
    the ramping one for the first `ramp_down` runs of every `ramp_cycle`. A bare asyncio
    HTTP/1.1 server with keep-alive: http.server costs several times more CPU per probe,
    which the bounce instances under test would feel."""
    import asyncio

    runs = {}

    def down(mirror, advance):
        if advance:
            runs[mirror] = runs.get(mirror, 0) + 1
        n = runs.get(mirror, 0)
        if mirror == a.flap:
            state = n % 2 == 0
        elif mirror == a.ramp:
            state = n > 0 and (n - 1) % a.ramp_cycle < a.ramp_down
        else:
            return False
        if advance:
            log(f"fake mirror {mirror}: run {n} {'down' if state else 'up'}")
        return state

    up = (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Length: 0\r\n\r\n")
    unavailable = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"

    class Mirror(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buf = transport, b""

        def data_received(self, data):
            self.buf += data
            while b"\r\n\r\n" in self.buf:
                head, self.buf = self.buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                try:
                    path = lines[0].split(b" ")[1].decode("latin-1")
                except IndexError:
                    self.transport.close()
                    return
                parts = path.split("/", 2)
                mirror = parts[1] if len(parts) > 1 else ""
                base = len(parts) == 2 or parts[2] == ""
                self.transport.write(unavailable if down(mirror, base) else up)
                if any(l.lower() == b"connection: close" for l in lines[1:]):
                    self.transport.close()
                    return

    async def serve():
        server = await asyncio.get_running_loop().create_server(
            Mirror, "127.0.0.1", a.port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


# ---------------------------------------------------------------- memcached, metrics


def publish(a):
    mc_set(a.memcached, f"{a.prefix}:generation:catalogue", a.generation)


def metrics(port):
    """bounce's counters this benchmark reads, from /metrics."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    out = {"dbq": 0, "watchq": 0, "mc": 0, "req": 0, "redirect": 0, "not_found": 0,
           "error": 0, "fills": 0, "generation": 0, "changes": 0, "full_loads": 0,
           "behind": 0, "stale": 0}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name, _, value = line.rpartition(" ")
        base = name.split("{", 1)[0]
        v = float(value)
        if base == "bounce_db_queries_total":
            out["dbq"] += v
        elif base == "bounce_db_watch_queries_total":
            out["watchq"] += v
        elif base == "bounce_memcached_calls_total":
            if 'result="skipped"' not in name and 'result="too_large"' not in name:
                out["mc"] += v
        elif base == "bounce_requests_total":
            out["req"] += v
            for k in ("redirect", "not_found", "error"):
                if f'outcome="{k}"' in name:
                    out[k] += v
        elif base == "bounce_cache_fills_total":
            out["fills"] += v
        elif base == "bounce_catalogue_generation":
            out["generation"] = v
        elif base == "bounce_changes_applied_total":
            out["changes"] += v
        elif base == "bounce_catalogue_full_loads_total":
            out["full_loads"] += v
        elif base == "bounce_replica_behind_total":
            out["behind"] += v
        elif base == "bounce_stale_served_total":
            out["stale"] += v
    return out


# ---------------------------------------------------------------- polling bounce


class Prober:
    """One keep-alive connection to one bounce instance."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path):
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                r.read()
                return r.status, r.getheader("Location") or ""
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise
        raise AssertionError

    def generation(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        self.conn.request("GET", "/metrics")
        text = self.conn.getresponse().read().decode()
        m = re.search(r"^bounce_catalogue_generation (\S+)", text, re.M)
        return float(m.group(1)) if m else -1


def wait_visible(ports, check, timeout=10.0, interval=0.002):
    """Polls every instance until `check(prober)` holds; seconds per instance (None: timed
    out), counted from the call (right after the write was acknowledged)."""
    t0 = time.monotonic()
    probers = [Prober(p) for p in ports]
    seen = [None] * len(ports)
    while None in seen and time.monotonic() - t0 < timeout:
        for i, p in enumerate(probers):
            if seen[i] is None:
                try:
                    ok = check(p)
                except (OSError, http.client.HTTPException):
                    ok = False
                if ok:
                    seen[i] = time.monotonic() - t0
        if None in seen:
            time.sleep(interval)
    return seen


class Recorder:
    def __init__(self, path, case, round_):
        self.path, self.case, self.round = path, case, round_
        self.lock = threading.Lock()
        self.threads = []
        self.failures = 0

    def watch(self, kind, probe, ack_s, ports, check):
        acked = time.time()

        def run():
            seen = wait_visible(ports, check)
            row = {"case": self.case, "round": self.round, "kind": kind, "probe": probe,
                   "acked": time.strftime("%H:%M:%S", time.gmtime(acked)) + f".{int(acked % 1 * 1000):03d}Z",
                   "ack_ms": ack_s * 1000, "visible_ms": [None if s is None else s * 1000
                                                         for s in seen]}
            if any(s is not None and s > 0.5 for s in seen):
                log(f"{self.case}: {kind} acknowledged at {row['acked']} (after {ack_s * 1000:.0f} ms) "
                    f"visible after {[None if s is None else round(s * 1000) for s in seen]} ms")
            with self.lock, open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")
            if None in seen:
                log(f"{self.case}: {kind} not visible on every instance within 10 s: {seen}")

        t = threading.Thread(target=run)
        t.start()
        self.threads.append(t)

    def join(self):
        for t in self.threads:
            t.join()


def request(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read().decode(errors="replace")


# ---------------------------------------------------------------- writers


def writer_paths(a, rec, stop_at):
    """(a): one location path PATCH per second through the JSON API; each must show in the
    Location header of that location's URL on every instance."""
    conn = http.client.HTTPConnection("127.0.0.1", a.tuxedo, timeout=30)
    headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"}
    n = 0
    next_t = time.monotonic() + 1
    while next_t < stop_at:
        time.sleep(max(0, next_t - time.monotonic()))
        i = (a.round * 397 + n * 37) % a.locations
        suffix = f"setup-r{a.round}w{n}.exe"
        body = json.dumps({"path": f"/bench/{i}/:lang/{suffix}"})
        t0 = time.monotonic()
        status, text = request(conn, "PATCH", f"/api/v2/locations/{i + 1}", body, headers)
        ack = time.monotonic() - t0
        if ack > 0.3:
            log(f"(a): PATCH /api/v2/locations/{i + 1} took {ack * 1000:.0f} ms")
        if status != 200:
            log(f"(a): PATCH /api/v2/locations/{i + 1} answered {status}: {text[:200]}")
            rec.failures += 1
        else:
            url = f"/?product=bench-{i // 5}&os={OSES[i % 5]}&lang=en-US"
            want = f"/bench/{i}/en-US/{suffix}"
            rec.watch("location path (JSON PATCH)", "answer", ack, a.ports,
                      lambda p, url=url, want=want: p.get(url)[1].endswith(want))
        n += 1
        next_t += 1


def release_products(tag):
    return [
        (f"Bench-Firefox-{tag}", False, "bench-firefox-latest"),
        (f"Bench-Firefox-{tag}-SSL", True, "bench-firefox-latest-ssl"),
        (f"Bench-Firefox-{tag}-msi-SSL", True, "bench-firefox-msi-latest-ssl"),
        (f"Bench-Firefox-{tag}-stub", False, "bench-firefox-stub"),
    ]


def writer_release(a, rec, stop_at):
    """(b): a release as release automation sends it through the XML API (Basic auth on
    every call, GETs included): per product product_show, product_add (en-US),
    product_language_add (99 more), location_show, location_add per OS; then the aliases
    flip to the new products. Writes follow each other without waiting for visibility."""
    time.sleep(1)
    tag = f"{a.version}r{a.round}"
    conn = http.client.HTTPConnection("127.0.0.1", a.tuxedo, timeout=30)
    auth = {"Authorization": basic_auth(a.user, a.password)}
    form = dict(auth, **{"Content-Type": "application/x-www-form-urlencoded"})

    def call(method, cmd, params):
        q = urllib.parse.urlencode(params, doseq=True)
        t0 = time.monotonic()
        if method == "GET":
            status, text = request(conn, "GET", f"/api/{cmd}?{q}", headers=auth)
        else:
            status, text = request(conn, "POST", f"/api/{cmd}", q, form)
        ack = time.monotonic() - t0
        if ack > 0.3:
            log(f"(b): {cmd} took {ack * 1000:.0f} ms")
        if status != 200:
            rec.failures += 1
            log(f"(b): {cmd} answered {status}: {text[:200]}")
        return status == 200, ack

    def generation_visible(kind, ack):
        g = float(mc_get(a.memcached, f"{a.prefix}:generation:catalogue") or 0)
        rec.watch(kind, "generation", ack, a.ports, lambda p, g=g: p.generation() >= g)

    prods = release_products(tag)
    for name, ssl, _alias in prods:
        call("GET", "product_show", {"product": name})
        params = {"product": name, "languages": ["en-US"]}
        if ssl:
            params["ssl_only"] = "true"
        ok, ack = call("POST", "product_add", params)
        if ok:
            generation_visible("product_add", ack)
        ok, ack = call("POST", "product_language_add",
                       {"product": name, "languages": LOCALES[1:]})
        if ok:
            generation_visible("product_language_add (99)", ack)
        call("GET", "location_show", {"product": name})
        for os_ in OSES:
            path = f"/bench-release/{tag}/{name}/{os_}/:lang/setup.exe"
            ok, ack = call("POST", "location_add", {"product": name, "os": os_, "path": path})
            if ok:
                url = f"/?product={name}&os={os_}&lang=de"
                want = f"/bench-release/{tag}/{name}/{os_}/de/setup.exe"
                rec.watch("location_add", "answer", ack, a.ports,
                          lambda p, url=url, want=want: (lambda s, loc: s == 302 and loc.endswith(want))(*p.get(url)))
    for name, _ssl, alias in prods:
        ok, ack = call("POST", "create_update_alias", {"alias": alias, "related_product": name})
        if ok:
            url = f"/?product={alias}&os=win64&lang=de"
            want = f"/bench-release/{tag}/{name}/win64/de/setup.exe"
            rec.watch("create_update_alias", "answer", ack, a.ports,
                      lambda p, url=url, want=want: p.get(url)[1].endswith(want))
    if time.monotonic() > stop_at:
        log("(b): the release took longer than the load run; raise DURATION")


# ---------------------------------------------------------------- load


def parse_wrk(text):
    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
        n, u = float(m.group(1)), m.group(2)
        return n * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]

    out = {"rps": 0.0, "p99": 0.0, "p50": 0.0, "requests": 0, "sock_err": 0, "non23": 0}
    for line in text.splitlines():
        s = line.split()
        if line.startswith("Requests/sec:"):
            out["rps"] = float(s[1])
        elif s[:1] == ["99%"]:
            out["p99"] = ms(s[1])
        elif s[:1] == ["50%"]:
            out["p50"] = ms(s[1])
        elif "requests in" in line:
            out["requests"] = int(s[0])
        elif line.strip().startswith("Socket errors:"):
            out["sock_err"] = sum(int(x.strip(",")) for x in s[3::2])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            out["non23"] = int(s[-1])
    return out


def server_status(command):
    """MariaDB's server-wide counters (the server may be shared: other clients' CREATE and
    DROP DATABASE stall InnoDB for everyone)."""
    if not command:
        return {}
    out = subprocess.run(command, shell=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (l.split("\t") for l in out.splitlines() if "\t" in l)}


def load(a):
    ports = [int(p) for p in a.targets.split(",")]
    pids = [int(p) for p in a.pids.split(",")]
    bounce = [int(p) for p in a.bounce.split(",")] if a.bounce else []
    a.ports = bounce
    # name=pid pairs: tuxedo, fake mirrors, sentry, mariadbd (shared with whoever else uses it)
    aux = [(n, int(p)) for n, p in (x.split("=") for x in a.aux_pids.split(",") if x)]

    def aux_cpu():
        out = {n: cpu_seconds(p) for n, p in aux}
        out["poller"] = sum(os.times()[:2])
        return out
    m0 = [metrics(p) for p in bounce]
    c0 = [cpu_seconds(p) for p in pids]
    x0 = aux_cpu()
    s0 = server_status(a.mysql_status)
    t0 = time.monotonic()
    stop_at = t0 + a.duration - 1
    env = dict(os.environ, BENCH_URLS=a.urls)
    conns = max(1, a.connections // len(ports))
    wrks = [subprocess.Popen(
        ["wrk", "-t1", f"-c{conns}", f"-d{a.duration}s", "--latency", "-s", a.script,
         f"http://127.0.0.1:{p}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True) for p in ports]

    def stop(signum, frame):
        for w in wrks:
            w.kill()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rec = Recorder(a.vis, a.case, a.round)
    writer = None
    if a.mode in ("paths", "release"):
        fn = writer_paths if a.mode == "paths" else writer_release
        writer = threading.Thread(target=fn, args=(a, rec, stop_at))
        writer.start()
    probes = {"select": [], "commit": []}
    if a.db_probe:
        # Another client's trivial statements, twice a second: when they are slow too, a slow
        # write is the machine's (CPU, disk, a shared server), not tuxedo's or bounce's.
        def probe():
            while any(w.poll() is None for w in wrks):
                for kind, sql in (("select", "SELECT 1"),
                                  ("commit", "INSERT INTO release_day_probe (at) VALUES (NOW(6))")):
                    t = time.monotonic()
                    subprocess.run(a.db_probe + [sql], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    probes[kind].append((time.monotonic() - t) * 1000)
                time.sleep(0.5)
        threading.Thread(target=probe, daemon=True).start()
    rss_series = []
    if a.rss_every:
        def sample():
            while any(w.poll() is None for w in wrks):
                rss_series.append([round(time.monotonic() - t0, 1)] + [rss_mib(p) for p in pids])
                time.sleep(a.rss_every)
        threading.Thread(target=sample, daemon=True).start()
    outs = [w.communicate()[0] for w in wrks]
    elapsed = time.monotonic() - t0
    c1 = [cpu_seconds(p) for p in pids]
    m1 = [metrics(p) for p in bounce]
    if writer:
        writer.join()
        rec.join()
    x1 = aux_cpu()
    s1 = server_status(a.mysql_status)
    parsed = [parse_wrk(o) for o in outs]
    for o, p in zip(outs, parsed):
        if p["requests"] == 0:
            raise SystemExit(f"wrk measured nothing:\n{o}")
    row = {
        "case": a.case, "run": a.run, "round": a.round, "label": a.label,
        "rps": sum(p["rps"] for p in parsed),
        "p99": max(p["p99"] for p in parsed),
        "p50": max(p["p50"] for p in parsed),
        "requests": sum(p["requests"] for p in parsed),
        "sock_err": sum(p["sock_err"] for p in parsed),
        "non23": sum(p["non23"] for p in parsed),
        "cpu_s": sum(b - x for x, b in zip(c0, c1)),
        "elapsed": elapsed,
        "rss": [rss_mib(p) for p in pids],
        "write_failures": rec.failures,
        "aux_cpu": {n: x1[n] - x0[n] for n in x0},
        "server": {k: s1[k] - s0.get(k, 0) for k in s1},
        "probes": probes,
    }
    if bounce:
        d = {k: sum(after[k] - before[k] for before, after in zip(m0, m1)) for k in m0[0]}
        row.update({"dbq": d["dbq"] + d["watchq"], "mc": d["mc"], "served": d["req"],
                    "redirect": d["redirect"], "not_found": d["not_found"], "error": d["error"],
                    "changes": d["changes"], "full_loads": d["full_loads"],
                    "behind": d["behind"], "stale": d["stale"], "fills": d["fills"],
                    "generation": [m["generation"] for m in m1]})
    if rss_series:
        row["rss_series"] = rss_series
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    extra = ""
    if probes["commit"]:
        extra += (f", DB probe from another client: SELECT 1 max {max(probes['select']):.0f} ms, "
                  f"INSERT+commit p50 {pct(probes['commit'], .5):.0f} / max {max(probes['commit']):.0f} ms")
    if row["server"]:
        extra += ", MariaDB server-wide: " + ", ".join(f"{k} {v}" for k, v in row["server"].items())
    if bounce:
        extra = (f", {row['dbq']:.0f} DB queries, {row['mc']:.0f} memcached calls, {row['error']:.0f} 5xx, "
                 f"{row['changes']:.0f} changes applied, {row['full_loads']:.0f} full loads, "
                 f"{row['behind']:.0f} replica-behind, {row['stale']:.0f} stale, {row['fills']:.0f} fills, "
                 f"generation {row['generation']}")
    log(f"{a.case}/{a.run} round {a.round}: {row['rps']:.0f} req/s, p99 {row['p99']:.2f} ms, "
        f"server CPU {row['cpu_s']:.2f} s, others {aux_text([row])}{extra}")


def settle(a):
    """Waits until every instance serves the master's generation (a writer that was just
    stopped may commit one more batch), then refills what that dropped, so the next run
    does not pay for the previous one's writes."""
    ports = [int(p) for p in a.bounce.split(",")]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = subprocess.run(a.master_generation, shell=True, capture_output=True, text=True)
        want = float(out.stdout.strip() or 0)
        have = [metrics(p)["generation"] for p in ports]
        if all(h >= want for h in have):
            break
        time.sleep(0.2)
    else:
        log(f"instances did not reach the master's generation {want} in 15 s: {have}")
    warm(a, quiet=True)


def warm(a, quiet=False):
    """Runs short passes over every URL until no instance fills anything any more."""
    ports = [int(p) for p in a.bounce.split(",")]
    env = dict(os.environ, BENCH_URLS=a.urls)
    prev = None
    for n in range(1, 61):
        for port in ports:
            subprocess.run(["wrk", "-t1", "-c16", "-d1s", "-s", a.script,
                            f"http://127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, check=True)
        fills = [metrics(p)["fills"] for p in ports]
        if fills == prev:
            if not quiet:
                log(f"warm after {n} passes ({fills} fills)")
            return
        prev = fills
    log(f"still filling after 60 passes ({prev} fills)")


# ---------------------------------------------------------------- report


def pct(values, q):
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.4999)) - 1))]


def median(values):
    v = sorted(values)
    return v[(len(v) - 1) // 2] if v else 0


CASES = {
    "ceiling": "ceilings (same run)",
    "a": "(a) 1 write/s, JSON API location path",
    "b": "(b) release via XML API: 4 products x 5 OS x 100 langs + 4 alias flips",
    "c": "(c) sentry daemon, 1 flapping + 1 ramping fake mirror",
    "d": "(d) 100 % unknown product names",
}


def aux_text(rs):
    """Median CPU seconds per run of the other processes, the mariadbd apart."""
    names = [n for n in rs[0].get("aux_cpu", {})]
    med = {n: median([r["aux_cpu"].get(n, 0) for r in rs]) for n in names}
    ours = {n: v for n, v in med.items() if n != "mariadb"}
    text = f"{sum(ours.values()):.1f}"
    parts = [f"{n} {v:.1f}" for n, v in ours.items() if v >= 0.05]
    if parts:
        text += " (" + ", ".join(parts) + ")"
    if "mariadb" in med:
        text += f"; mariadbd {med['mariadb']:.1f}"
    return text


def report(a):
    rows = [json.loads(l) for l in open(a.results)]
    vis = [json.loads(l) for l in open(a.vis)] if os.path.exists(a.vis) else []
    print("| case | run | req/s (median) | p99 (median) | vs no-write | DB queries per 1M | "
          "memcached calls per 1M | write → visible p99 / max, A; B (n) | non-302 (incl. pollers' 404s) / 5xx / socket errors | "
          "changes applied / full loads | RSS A / B | CPU µs per request | other CPU s per run (median) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    order = []
    for r in rows:
        if (r["case"], r["run"]) not in order:
            order.append((r["case"], r["run"]))
    base = {}
    for case, run in order:
        rs = [r for r in rows if r["case"] == case and r["run"] == run]
        rps, p99 = median([r["rps"] for r in rs]), median([r["p99"] for r in rs])
        reqs = sum(r["requests"] for r in rs)
        cpu = sum(r["cpu_s"] for r in rs) / reqs * 1e6 if reqs else 0
        if run == "nowrite":
            base[case] = (rps, p99)
        vs = "–"
        if run != "nowrite" and case in base:
            b_rps, b_p99 = base[case]
            vs = f"{100 * rps / b_rps:.0f} % req/s, p99 {p99 - b_p99:+.2f} ms"
        if case == "ceiling" and "ceiling" in base and run != "nowrite":
            vs = f"bounce at {100 * base['ceiling'][0] / rps:.0f} % of it"
        if "served" in rs[0]:
            served = sum(r["served"] for r in rs)
            dbq = f"{1e6 * sum(r['dbq'] for r in rs) / served:.1f}"
            mc = f"{1e6 * sum(r['mc'] for r in rs) / served:.1f}"
            non302 = sum(r["served"] - r["redirect"] for r in rs)
            errs = f"{non302:.0f} / {sum(r['error'] for r in rs):.0f} / {sum(r['sock_err'] for r in rs)}"
            changes = f"{sum(r['changes'] for r in rs):.0f} / {sum(r['full_loads'] for r in rs):.0f}"
            rss = " / ".join(f"{x:.0f}" for x in rs[-1]["rss"]) + " MiB"
            series = [s for r in rs for s in r.get("rss_series", [])]
            if series:
                cols = list(zip(*series))[1:]
                rss = " / ".join(f"{c[0]:.0f}→{max(c):.0f}→{c[-1]:.0f}" for c in cols) + \
                    f" MiB (start→max→end, {len(series)} samples)"
        else:
            dbq = mc = "–"
            errs = f"– / – / {sum(r['sock_err'] for r in rs)}"
            changes = "–"
            rss = " / ".join(f"{x:.0f}" for x in rs[-1]["rss"]) + " MiB"
        v = [x for x in vis if x["case"] == case] if run == "write" else []
        vtext = "–"
        if v:
            per = list(zip(*[x["visible_ms"] for x in v]))
            parts = []
            for inst in per:
                ok = [x for x in inst if x is not None]
                lost = len(inst) - len(ok)
                parts.append(f"{pct(ok, 0.99):.0f} / {max(ok):.0f} ms" + (f" ({lost} never)" if lost else "")
                             if ok else f"none ({lost} never)")
            gen = sum(1 for x in v if x["probe"] == "generation")
            ack = pct([x["ack_ms"] for x in v], 0.99)
            vtext = "; ".join(parts) + f" (n={len(v)}" + (f", {gen} by generation" if gen else "") + \
                f"; ack p99 {ack:.0f} ms)"
        failed = sum(r.get("write_failures", 0) for r in rs)
        if failed:
            vtext += f"; {failed} writes FAILED"
        label = rs[0].get("label") or run
        print(f"| {CASES.get(case, case)} | {label} | {rps:,.0f} | {p99:.2f} ms | {vs} | {dbq} | {mc} | "
              f"{vtext} | {errs} | {changes} | {rss} | {cpu:.1f} | {aux_text(rs)} |")
    if a.note:
        print()
        print(a.note)
    slow = []
    for case in dict.fromkeys(r["case"] for r in rows):
        c = [x for r in rows if r["case"] == case for x in r.get("probes", {}).get("commit", [])]
        q = [x for r in rows if r["case"] == case for x in r.get("probes", {}).get("select", [])]
        if c:
            slow.append(f"{case}: INSERT+commit p50 {pct(c, .5):.0f} / p99 {pct(c, .99):.0f} / max {max(c):.0f} ms, "
                        f"SELECT 1 p99 {pct(q, .99):.0f} / max {max(q):.0f} ms (n={len(c)})")
    if slow:
        print("Database probe during the write runs (a fresh mariadb client process per statement, "
              "twice a second): " + "; ".join(slow) + ".")
    others = {}
    for r in rows:
        for k, v in r.get("server", {}).items():
            others[k] = others.get(k, 0) + v
    if others:
        print("MariaDB server-wide during the measured runs (all clients, this benchmark creates and "
              "drops its database only before and after): " + ", ".join(f"{k} {v}" for k, v in others.items()) + ".")
    if vis:
        print()
        print("| case | write | n | ack p50 / p99 | visible on A p50 / p99 / max | visible on B p50 / p99 / max |")
        print("|---|---|---|---|---|---|")
        kinds = []
        for x in vis:
            if (x["case"], x["kind"]) not in kinds:
                kinds.append((x["case"], x["kind"]))
        for case, kind in kinds:
            v = [x for x in vis if x["case"] == case and x["kind"] == kind]
            acks = [x["ack_ms"] for x in v]
            cells = []
            for i in range(len(v[0]["visible_ms"])):
                ok = [x["visible_ms"][i] for x in v if x["visible_ms"][i] is not None]
                lost = len(v) - len(ok)
                cells.append((f"{pct(ok, .5):.0f} / {pct(ok, .99):.0f} / {max(ok):.0f} ms" if ok else "–")
                             + (f", {lost} never" if lost else ""))
            probe = " (generation gauge)" if v[0]["probe"] == "generation" else ""
            print(f"| {case} | {kind}{probe} | {len(v)} | {pct(acks, .5):.0f} / {pct(acks, .99):.0f} ms | "
                  + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fake-mirrors")
    f.add_argument("--port", type=int, required=True)
    f.add_argument("--flap", default="m49")
    f.add_argument("--ramp", default="m48")
    f.add_argument("--ramp-down", type=int, default=2)
    f.add_argument("--ramp-cycle", type=int, default=8)
    f = sub.add_parser("publish")
    f.add_argument("--memcached", required=True)
    f.add_argument("--prefix", required=True)
    f.add_argument("--generation", type=int, required=True)
    f = sub.add_parser("warm")
    f.add_argument("--bounce", required=True)
    f.add_argument("--urls", required=True)
    f.add_argument("--script", required=True)
    f = sub.add_parser("settle")
    f.add_argument("--bounce", required=True)
    f.add_argument("--urls", required=True)
    f.add_argument("--script", required=True)
    f.add_argument("--master-generation", required=True, help="shell command printing it")
    f = sub.add_parser("load")
    for name in ("case", "run", "targets", "pids", "urls", "script", "out", "vis"):
        f.add_argument(f"--{name}", required=True)
    f.add_argument("--label", default="")
    f.add_argument("--bounce", default="")
    f.add_argument("--aux-pids", default="")
    f.add_argument("--mysql-status", default="", help="shell command printing name<TAB>value")
    f.add_argument("--db-probe", default="", type=lambda v: v.split("\x1f") if v else [],
                   help="mariadb command line (fields joined by 0x1f) to which the SQL is appended")
    f.add_argument("--round", type=int, default=1)
    f.add_argument("--duration", type=int, required=True)
    f.add_argument("--connections", type=int, default=64)
    f.add_argument("--mode", default="none", choices=["none", "paths", "release"])
    f.add_argument("--rss-every", type=float, default=0)
    f.add_argument("--tuxedo", type=int, default=0)
    f.add_argument("--token", default="")
    f.add_argument("--user", default="")
    f.add_argument("--password", default="")
    f.add_argument("--memcached", default="")
    f.add_argument("--prefix", default="")
    f.add_argument("--locations", type=int, default=1000)
    f.add_argument("--version", default="140.0")
    f = sub.add_parser("report")
    f.add_argument("--results", required=True)
    f.add_argument("--vis", required=True)
    f.add_argument("--note", default="")
    a = p.parse_args()
    {"fake-mirrors": fake_mirrors, "publish": publish, "warm": warm, "settle": settle, "load": load,
     "report": report}[a.cmd](a)


if __name__ == "__main__":
    main()
