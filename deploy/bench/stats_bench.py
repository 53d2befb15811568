#!/usr/bin/env python3
"""Helpers of deploy/bench/stats.sh (standard library only).

  writer   one location path PATCH per second through tuxedo's JSON API until SIGTERM
           (as release-day.sh's case (a)); failures (tuxedo stopped) are counted, not fatal
  record   appends one JSON line for a measured run: what the wrk processes received
           (stats.lua's output), CPU and the rest given as key=value, and, with --before and
           --after, the comparison of the downloads received with what tuxedo stored
  report   prints the Markdown tables from the JSON lines
"""
import argparse
import http.client
import json
import signal
import sys
import time
import urllib.parse

from benchlib import CLK_TCK


def log(*args):
    print("stats:", *args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- writer


def writer(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"}
    ok, failed, acks, n = 0, 0, [], 0
    conn = None
    next_t = time.monotonic() + 1
    while not stop:
        time.sleep(max(0, next_t - time.monotonic()))
        if stop:
            break
        next_t += 1
        i = (n * 37) % a.locations
        # The path keeps /bench/<i>/, from which stats.lua reads the product.
        body = json.dumps({"path": f"/bench/{i}/:lang/setup-s{n}.exe"})
        n += 1
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", a.tuxedo, timeout=30)
            conn.request("PATCH", f"/api/v2/locations/{i + 1}", body, headers)
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                ok += 1
                acks.append((time.monotonic() - t0) * 1000)
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn = None
    acks.sort()
    with open(a.out, "w") as f:
        json.dump({"ok": ok, "failed": failed,
                   "ack_p50": acks[len(acks) // 2] if acks else None,
                   "ack_max": acks[-1] if acks else None}, f)


# ---------------------------------------------------------------- record


def parse_wrk(path):
    """stats.lua's lines and wrk's own summary from one wrk output file."""
    out = {"responses": 0, "bad_location": 0, "statuses": {}, "downloads": {},
           "rps": 0.0, "sock_err": 0}
    with open(path) as f:
        for line in f:
            s = line.split()
            if not s:
                continue
            if s[0] == "RESPONSES":
                out["responses"] = int(s[1])
            elif s[0] == "BADLOCATION":
                out["bad_location"] = int(s[1])
            elif s[0] == "STATUS":
                out["statuses"][s[1]] = out["statuses"].get(s[1], 0) + int(s[2])
            elif s[0] == "DOWNLOAD":
                key = f"{s[1]} {s[2]}"
                out["downloads"][key] = out["downloads"].get(key, 0) + int(s[3])
            elif s[0] == "Requests/sec:":
                out["rps"] = float(s[1])
            elif line.strip().startswith("Socket errors:"):
                out["sock_err"] = sum(int(x.strip(",")) for x in s[2:] if x.strip(",").isdigit())
    return out


def read_snapshot(path):
    """granularity -> {(product, target): downloads} from the SELECT stats.sh ran."""
    snap = {}
    with open(path) as f:
        for line in f:
            g, product, target, n = line.rstrip("\n").split("\t")
            snap.setdefault(g, {})[(product, target)] = int(n)
    return snap


def read_mirrors(path):
    """Location host -> target as tuxedo stores it (a mirror's id; 'fallback')."""
    hosts = {}
    with open(path) as f:
        for line in f:
            mid, baseurl = line.rstrip("\n").split("\t")
            hosts[urllib.parse.urlsplit(baseurl).netloc] = mid
    return hosts


def compare(a, wrks):
    before, after = read_snapshot(a.before), read_snapshot(a.after)
    hosts = read_mirrors(a.mirrors)
    hosts[a.fallback_host] = "fallback"
    received = {}  # (product, target) -> n
    unknown_hosts = set()
    for w in wrks:
        for key, n in w["downloads"].items():
            host, product = key.split(" ")
            target = hosts.get(host)
            if target is None:
                unknown_hosts.add(host)
                target = "?" + host
            received[(product, target)] = received.get((product, target), 0) + n
    stored = {}
    totals = {}
    for g in ("m", "h", "d"):
        b, x = before.get(g, {}), after.get(g, {})
        delta = {k: x.get(k, 0) - b.get(k, 0) for k in set(b) | set(x)}
        delta = {k: v for k, v in delta.items() if v}
        totals[g] = sum(delta.values())
        if g == "d":
            stored = delta

    def by(index, d):
        out = {}
        for k, v in d.items():
            out[k[index]] = out.get(k[index], 0) + v
        return out

    def diffs(r, s):
        return {k: s.get(k, 0) - r.get(k, 0) for k in set(r) | set(s) if s.get(k, 0) != r.get(k, 0)}

    dp = diffs(by(0, received), by(0, stored))
    dt = diffs(by(1, received), by(1, stored))
    dk = diffs(received, stored)
    return {
        "received": sum(received.values()),
        "stored": totals["d"],
        "stored_mhd": [totals["m"], totals["h"], totals["d"]],
        "products": len(set(by(0, received)) | set(by(0, stored))),
        "targets": len(set(by(1, received)) | set(by(1, stored))),
        "keys": len(set(received) | set(stored)),
        "products_off": len(dp), "targets_off": len(dt), "keys_off": len(dk),
        "worst": sorted(([list(k), v] for k, v in dk.items()), key=lambda x: -abs(x[1]))[:5],
        "unknown_hosts": sorted(unknown_hosts),
    }


def value(v):
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def record(a):
    wrks = [parse_wrk(p) for p in a.wrk]
    row = {"phase": a.phase, "label": a.label}
    for kv in a.set:
        k, _, v = kv.partition("=")
        row[k] = value(v)
    row["responses"] = sum(w["responses"] for w in wrks)
    row["per_wrk_downloads"] = [sum(w["downloads"].values()) for w in wrks]
    row["downloads"] = sum(row["per_wrk_downloads"])
    row["rps"] = sum(w["rps"] for w in wrks)
    row["sock_err"] = sum(w["sock_err"] for w in wrks)
    row["bad_location"] = sum(w["bad_location"] for w in wrks)
    st = {}
    for w in wrks:
        for k, v in w["statuses"].items():
            st[k] = st.get(k, 0) + v
    row["statuses"] = st
    # CPU phase: the ticks were read when the downloads stopped (before the 404 tail), so
    # per request = per redirect wrk received; req/s likewise over the measured seconds.
    if "cpu_ticks" in row and row["downloads"]:
        row["cpu_us"] = row["cpu_ticks"] / CLK_TCK * 1e6 / row["downloads"]
        if "duration" in row:
            row["rps"] = row["downloads"] / row["duration"]
    if "tux_ticks" in row and row["downloads"]:
        row["tux_us"] = row["tux_ticks"] / CLK_TCK * 1e6 / row["downloads"]
        row["db_us"] = row["db_ticks"] / CLK_TCK * 1e6 / row["downloads"]
    if a.before:
        row["exact"] = compare(a, wrks)
        e = row["exact"]
        log(f"{a.phase}: received {e['received']} downloads, stored {e['stored']} "
            f"(minute/hour/day {e['stored_mhd']}); off: {e['products_off']} of {e['products']} products, "
            f"{e['targets_off']} of {e['targets']} targets" + (f"; worst {e['worst']}" if e["worst"] else "")
            + (f"; UNKNOWN HOSTS {e['unknown_hosts']}" if e["unknown_hosts"] else ""))
    if row["bad_location"]:
        log(f"{a.phase}: {row['bad_location']} redirects with a Location stats.lua could not read")
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    if "cpu_us" in row:
        log(f"{a.phase} {a.label}: {row['rps']:.0f} req/s, {row['cpu_us']:.2f} CPU µs per request")


# ---------------------------------------------------------------- report


def median(values):
    v = sorted(values)
    return v[(len(v) - 1) // 2] if v else 0


def report(a):
    rows = [json.loads(line) for line in open(a.results)]
    out = print
    cpu = [r for r in rows if r["phase"] == "cpu"]
    if cpu:
        out("| statistics | rounds | bounce CPU µs per redirect, median (min–max) | vs off | req/s, median (A+B) "
            "| tuxedo / mariadbd CPU µs per redirect (median) | other than 302 and the tail's 404 / socket errors |")
        out("|---|---|---|---|---|---|---|")
        base = None
        for label in ("off", "on"):
            rs = [r for r in cpu if r["label"] == label]
            if not rs:
                continue
            us = [r["cpu_us"] for r in rs]
            m = median(us)
            vs = "–"
            if label == "off":
                base = m
            elif base:
                vs = f"**{100 * (m - base) / base:+.1f} %**"
            non302 = sum(r["responses"] - r["statuses"].get("302", 0) - r["statuses"].get("404", 0) for r in rs)
            out(f"| {label} | {len(rs)} | {m:.2f} ({min(us):.2f}–{max(us):.2f}) | {vs} | "
                f"{median([r['rps'] for r in rs]):,.0f} | {median([r.get('tux_us', 0) for r in rs]):.2f} / "
                f"{median([r.get('db_us', 0) for r in rs]):.2f} | "
                f"{non302} / {sum(r['sock_err'] for r in rs)} |")
        offs = [r["cpu_us"] for r in cpu if r["label"] == "off"]
        ons = [r["cpu_us"] for r in cpu if r["label"] == "on"]
        pairs = [f"{100 * (n - f) / f:+.1f} %" for f, n in zip(offs, ons)]
        out()
        out("On vs off, round by round: " + ", ".join(pairs) + ".")
        total = {r["label"]: r["cpu_us"] for r in rows if r["phase"] == "cpu_total" and "cpu_us" in r}
        if "off" in total and "on" in total:
            out()
            out(f"Each pair over the whole phase (its idle rounds, when an on pair still sends what it "
                f"counted, and the final drain included): off {total['off']:.2f}, on {total['on']:.2f} CPU µs "
                f"per redirect (**{100 * (total['on'] - total['off']) / total['off']:+.1f} %**).")
        out()
    ex = [r for r in rows if "exact" in r]
    if ex:
        out("| case | GET 302s wrk received | stored (day rows) | stored − received | minute / hour / day totals "
            "| products off / compared | mirrors off / compared | notes |")
        out("|---|---|---|---|---|---|---|---|")
        for r in ex:
            e = r["exact"]
            d = e["stored"] - e["received"]
            note = r.get("note", "")
            if r["phase"] == "kill9":
                alive = r.get("a_alive", 0)
                a_dl = r["per_wrk_downloads"][0]
                per = a_dl / alive * r.get("drain", 0) if alive else 0
                note = (f"loss {-d:,} = {100 * -d / per if per else 0:.0f} % of one drain interval of the "
                        f"killed instance (A received {a_dl:,} downloads in the {alive:.1f} s it was loaded: "
                        f"{per:,.0f} per {r.get('drain', 0)} s)" + (f"; {note}" if note else ""))
            if r["phase"] == "unknown":
                note = (f"{r['responses']:,} responses ({', '.join(f'{k}: {v:,}' for k, v in sorted(r['statuses'].items()))})")
            notes = [note] if note else []
            if e["worst"] and r["phase"] != "kill9":
                notes.append(f"largest differences (product, target, stored − received): {e['worst']}")
            if e["unknown_hosts"]:
                notes.append(f"Location hosts not in mirror_mirrors: {e['unknown_hosts']}")
            note = "; ".join(notes)
            mhd = " / ".join(f"{x:,}" for x in e["stored_mhd"])
            out(f"| {r['label']} | {e['received']:,} | {e['stored']:,} | {d:+,} | {mhd} | "
                f"{e['products_off']} / {e['products']} | {e['targets_off']} / {e['targets']} | {note} |")
        out()
    un = [r for r in rows if r["phase"] == "unknown"]
    for r in un:
        out("| unknown names | requests (A+B) | req/s | RSS A before → max → after | RSS B before → max → after "
            "| bounce_stats_waiting_counts max | request-path DB queries | watch DB queries | memcached calls |")
        out("|---|---|---|---|---|---|---|---|---|")
        out(f"| {r['label']} | {r['responses']:,} | {r['rps']:,.0f} | {r['rss_a']} MiB | {r['rss_b']} MiB | "
            f"{r['waiting_max']} | {r['dbq']} | {r['watchq']} | {r['mc']} |")
        out()
    if a.note:
        out(a.note)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("writer")
    f.add_argument("--tuxedo", type=int, required=True)
    f.add_argument("--token", required=True)
    f.add_argument("--locations", type=int, required=True)
    f.add_argument("--out", required=True)
    f = sub.add_parser("record")
    f.add_argument("--out", required=True)
    f.add_argument("--phase", required=True)
    f.add_argument("--label", default="")
    f.add_argument("--wrk", nargs="*", default=[])
    f.add_argument("--set", nargs="*", default=[], help="key=value")
    f.add_argument("--before")
    f.add_argument("--after")
    f.add_argument("--mirrors")
    f.add_argument("--fallback-host", default="fallback.example")
    f = sub.add_parser("report")
    f.add_argument("--results", required=True)
    f.add_argument("--note", default="")
    a = p.parse_args()
    {"writer": writer, "record": record, "report": report}[a.cmd](a)


if __name__ == "__main__":
    main()
