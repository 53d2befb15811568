"""Proximity replay (deploy/bench/proximity.sh): where bounce sends each network's clients,
against the world's true round trips (world.json from bounce/examples/proximity_world.rs).

    proximity_replay.py shares WORK_DIR BASE MODE

One JSON line: per mode, the share of redirects to a mirror within 1.5 x the network's best
round trip over all mirrors, and the mean round trip clients get."""

import json
import sys
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def where(opener, url):
    try:
        opener.open(url, timeout=10)
    except urllib.error.HTTPError as e:
        if e.code == 302:
            return e.headers["Location"].split("/")[2]
        raise
    raise RuntimeError(f"{url}: not a redirect")


def shares(work, base, mode):
    world = json.load(open(f"{work}/world.json"))
    opener = urllib.request.build_opener(NoRedirect)
    urls = [line.strip() for line in open(f"{work}/urls")]
    by_prefix = {n["prefix"]: n for n in world["networks"]}
    near = total = 0
    rtts = []
    for path in urls:
        ip = path.rsplit("ip=", 1)[1]
        net = by_prefix[".".join(ip.split(".")[:2])]
        host = where(opener, base + path)
        rtt = net["rtt_ms"][host]
        best = min(net["rtt_ms"].values())
        near += rtt <= 1.5 * best
        total += 1
        rtts.append(rtt)
    print(json.dumps({
        "mode": mode,
        "redirects": total,
        "within_1_5x_best": round(near / total, 4),
        "mean_rtt_ms": round(sum(rtts) / len(rtts), 1),
    }))


if __name__ == "__main__":
    if sys.argv[1] == "shares":
        shares(*sys.argv[2:5])
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
