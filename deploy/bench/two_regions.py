#!/usr/bin/env python3
"""Measurements of deploy/bench/two-regions.sh (standard library only).

  two_regions.py writes TUXEDO USER PASSWORD N LABEL INSTANCE...
      N alias flips through the XML API (INSTANCE: `direct URL|URL tuxedo calls it at`). Per write: time to tuxedo's answer (ack), the
      instances it named unconfirmed, whether each instance's first answer right after the
      ack was stale, and the time until each instance served it. One JSON line.
  two_regions.py cut TUXEDO USER PASSWORD SECONDS CONTROL B_INSTANCES A_INSTANCES
      Cuts the link (writes `cut` to CONTROL) for SECONDS while requests run against
      region B's instances and a write goes through every 5 s; then restores it and waits
      until region B serves the last write. One JSON line.
  two_regions.py agree REFERENCE INSTANCE...
      Every product x os x lang answer (print=yes) of every instance against REFERENCE
      (a bounce reading the primary only). One JSON line.
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse

from benchlib import xml_post

ALIAS = "firefox-latest-ssl"
TARGETS = ["Firefox-130.0-SSL", "Firefox-131.0-SSL"]


def get(base, query, timeout=5):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("GET", "/?" + query)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def print_of(base, product, os_="win64", lang="en-US"):
    return get(base, f"product={urllib.parse.quote(product)}&os={os_}&lang={lang}&print=yes")


def flip(tuxedo, user, password, target):
    started = time.monotonic()
    _, headers = xml_post(tuxedo, user, password, "create_update_alias",
                          {"alias": ALIAS, "related_product": target}, timeout=60)
    took = time.monotonic() - started
    unconfirmed = [s.strip() for s in (headers.get("X-Bouncer-Unconfirmed") or "").split(",") if s.strip()]
    return started, took, unconfirmed


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000, 1)


def writes(tuxedo, user, password, n, label, specs):
    # Each instance as `direct|advertised` (the URL tuxedo names it by, across the link).
    named_as = dict(spec.split("|") if "|" in spec else (spec, spec) for spec in specs)
    instances = list(named_as)
    expected = {t: print_of(instances[0], t) for t in TARGETS}
    acks, served, stale, named = [], {i: [] for i in instances}, 0, 0
    for k in range(n):
        target = TARGETS[(k + 1) % 2]
        started, took, unconfirmed = flip(tuxedo, user, password, target)
        acks.append(took)
        named += len(unconfirmed)
        for inst in instances:
            first = print_of(inst, ALIAS)
            confirmed = named_as[inst] not in unconfirmed
            if first != expected[target] and confirmed:
                stale += 1
            while first != expected[target]:
                if time.monotonic() - started > 60:
                    break
                time.sleep(0.002)
                first = print_of(inst, ALIAS)
            served[inst].append(time.monotonic() - started)
    out = {"label": label, "writes": n, "ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99),
           "stale_first_reads_confirmed": stale, "unconfirmed_named": named}
    for inst, xs in served.items():
        out[f"served_p50_ms {inst}"] = pct(xs, 50)
        out[f"served_p99_ms {inst}"] = pct(xs, 99)
    print(json.dumps(out), flush=True)


def cut(tuxedo, user, password, seconds, control, b_instances, a_instances):
    statuses, stop = {}, threading.Event()

    def hammer(inst):
        while not stop.is_set():
            try:
                s, _ = print_of(inst, TARGETS[0])
            except OSError:
                s = "conn-error"
            statuses[s] = statuses.get(s, 0) + 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in b_instances]
    for t in threads:
        t.start()
    # The alias's target before the cut; the writes during it end on the other one, so
    # region B has something to catch up with.
    before = next(t for t in TARGETS if print_of(a_instances[0], ALIAS) == print_of(a_instances[0], t))
    other = TARGETS[1 - TARGETS.index(before)]
    open(control, "w").write("cut\n")
    time.sleep(0.5)  # the link reads its control file every 100 ms
    started, last, writes_during, named_b, not_naming_b = time.monotonic(), before, 0, 0, 0
    while time.monotonic() - started < seconds or last == before:
        last = other if last == before else before
        _, _, unconfirmed = flip(tuxedo, user, password, last)
        writes_during += 1
        named_b += len(unconfirmed)
        # Region B cannot have confirmed: every acknowledgement must name both instances.
        not_naming_b += int(len(unconfirmed) < len(b_instances))
        if time.monotonic() - started < seconds:
            time.sleep(5)
    stale_b = sum(1 for i in b_instances if print_of(i, ALIAS) != print_of(a_instances[0], last))
    open(control, "w").write("0\n")
    restored = time.monotonic()
    want = print_of(a_instances[0], last)
    converged = {}
    for inst in b_instances:
        while print_of(inst, ALIAS) != want and time.monotonic() - restored < 120:
            time.sleep(0.01)
        converged[inst] = round((time.monotonic() - restored) * 1000)
    stop.set()
    for t in threads:
        t.join()
    fivexx = sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500)
    print(json.dumps({"cut_secs": seconds, "requests_to_b": sum(statuses.values()),
                      "statuses": {str(k): v for k, v in statuses.items()}, "5xx": fivexx,
                      "writes_during_cut": writes_during, "unconfirmed_named": named_b,
                      "b_instances_behind_at_restore": stale_b,
                      "writes_acknowledged_without_naming_b": not_naming_b,
                      "converged_ms_after_restore": converged}), flush=True)


def agree(reference, instances, products, oses, langs):
    checked, differ = 0, []
    for p in products:
        for o in oses:
            for l in langs:
                want = print_of(reference, p, o, l)
                for inst in instances:
                    checked += 1
                    got = print_of(inst, p, o, l)
                    if got != want:
                        differ.append([inst, p, o, l, got, want])
    print(json.dumps({"answers_compared": checked, "differ": len(differ), "first": differ[:3]}), flush=True)


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "writes":
        writes(a[0], a[1], a[2], int(a[3]), a[4], a[5:])
    elif cmd == "cut":
        cut(a[0], a[1], a[2], int(a[3]), a[4], a[5].split(","), a[6].split(","))
    elif cmd == "agree":
        products = [f"Firefox-{v}{s}" for v in ("130.0", "131.0") for s in ("", "-SSL", "-stub")]
        products += ["firefox-latest", "firefox-latest-ssl", "firefox-stub"]
        agree(a[0], a[1:], products, ["win", "win64", "osx"], ["en-US", "de"])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
