"""The setup the python helpers of deploy/bench share (standard library only), as lib.sh is
for the shell scripts: tuxedo's XML API with Basic auth, memcached get and set, a process's
CPU time and memory from /proc. Imported by release_day.py, two_regions.py and
bouncerscript_aliases.py (each run from this directory, which python puts on sys.path).
"""
import base64
import http.client
import os
import re
import socket
import urllib.parse

CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- tuxedo


def basic_auth(user, password):
    """The Authorization header value release automation sends on every XML API call."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def xml_post(tuxedo, user, password, cmd, form, timeout=30):
    """POSTs FORM (a dict; lists repeat the key) to TUXEDO/api/CMD with Basic auth, on a
    connection of its own. Returns (body, response headers); raises unless tuxedo answers
    200."""
    u = urllib.parse.urlsplit(tuxedo)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        c.request("POST", f"/api/{cmd}", urllib.parse.urlencode(form, doseq=True), {
            "Authorization": basic_auth(user, password),
            "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
    finally:
        c.close()
    if r.status != 200:
        raise RuntimeError(f"{cmd} answered {r.status}: {body[:200]}")
    return body, r.headers


# ---------------------------------------------------------------- memcached


def mc_get(addr, key):
    """The value of KEY at memcached ADDR (host:port) as text, None when it is missing."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=1) as s:
        s.sendall(b"get %s\r\n" % key.encode())
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.match(rb"VALUE \S+ \d+ \d+\r\n(.*?)\r\nEND", data, re.S)
    return m.group(1).decode() if m else None


def mc_set(addr, key, value):
    """Sets KEY to str(VALUE) at memcached ADDR, for ever; raises unless it is stored."""
    value = str(value).encode()
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(value), value))
        if not s.recv(64).startswith(b"STORED"):
            raise RuntimeError(f"memcached did not store {key}")


# ---------------------------------------------------------------- /proc


def children(pid):
    """The direct children of PID (nginx: its workers)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def cpu_seconds(pid):
    """utime + stime of a process and its children's threads (nginx: master and workers)."""
    total = 0
    for p in [pid] + children(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
        except FileNotFoundError:
            pass
    return total / CLK_TCK


def rss_mib(pid):
    """VmRSS of PID in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
