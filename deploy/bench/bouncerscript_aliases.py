#!/usr/bin/env python3
"""Runs release automation's own alias step against a local tuxedo and two bounce instances
(driven by deploy/bench/bouncerscript.sh).

bouncerscript (PyPI, scriptworker-scripts) is imported as it is: `bouncer_aliases` posts
`create_update_alias` for each alias through tuxedo's XML API, then `check_aliases_match`
reads `?product=<alias>&print=yes` and `?product=<product>&print=yes` from bounce at once and
raises "Alias … and product … differ!" on any difference, with no retry. Only its bounce URL
template (download.mozilla.org) is pointed at a local instance: bounce A for the step itself,
then the same check again on bounce B. Each run flips the aliases to the other release.

  bouncerscript_aliases.py seed TUXEDO USER PASSWORD
  bouncerscript_aliases.py aliases TUXEDO USER PASSWORD VERSION   (the aliases, pointed at VERSION)
  bouncerscript_aliases.py run TUXEDO USER PASSWORD BOUNCE_A BOUNCE_B RUNS
"""
import asyncio
import json
import sys
import time

from benchlib import xml_post

VERSIONS = ["130.0", "131.0"]
SERVER = "project:releng:bouncer:server:production"
OSES = {"win": "win32", "win64": "win64"}


def aliases_for(version):
    return {
        "firefox-latest": f"Firefox-{version}",
        "firefox-latest-ssl": f"Firefox-{version}-SSL",
        "firefox-stub": f"Firefox-{version}-stub",
    }


def seed(tuxedo, user, password):
    for version in VERSIONS:
        for product in aliases_for(version).values():
            xml_post(tuxedo, user, password, "product_add",
                     {"product": product, "languages": "en-US", "ssl_only": "false"})
            for os_name, folder in OSES.items():
                path = f"/firefox/releases/{version}/{folder}/:lang/{product}.exe"
                xml_post(tuxedo, user, password, "location_add",
                         {"product": product, "os": os_name, "path": path})
    print("seeded", file=sys.stderr)


def aliases(tuxedo, user, password, version):
    for alias, product in aliases_for(version).items():
        xml_post(tuxedo, user, password, "create_update_alias", {"alias": alias, "related_product": product})


async def run(tuxedo, user, password, a, b, runs):
    import aiohttp
    from bouncerscript import constants, script, task

    class Context:
        pass

    results = []
    async with aiohttp.ClientSession() as session:
        ctx = Context()
        ctx.session = session
        ctx.server = SERVER
        ctx.config = {"bouncer_config": {SERVER: {
            "api_root": f"{tuxedo}/api", "username": user, "password": password}}}
        for i in range(runs):
            version = VERSIONS[i % 2]
            ctx.task = {"payload": {"aliases_entries": aliases_for(version)}}
            outcome = {"run": i + 1, "version": version}
            started = time.monotonic()
            try:
                constants.GO_BOUNCER_URL_TMPL[SERVER] = f"{a}/?product={{}}&print=yes"
                await script.bouncer_aliases(ctx)
                outcome["step_ms"] = round((time.monotonic() - started) * 1000, 1)
                constants.GO_BOUNCER_URL_TMPL[SERVER] = f"{b}/?product={{}}&print=yes"
                await task.check_aliases_match(ctx)
                outcome["ok"] = True
            except Exception as e:  # the task's failure, as release automation sees it
                outcome["ok"] = False
                outcome["error"] = f"{type(e).__name__}: {e}"
            results.append(outcome)
            print(json.dumps(outcome), file=sys.stderr)
    passes = sum(1 for r in results if r["ok"])
    print(json.dumps({"runs": runs, "passes": passes, "failures": runs - passes,
                      "errors": sorted({r["error"] for r in results if not r["ok"]})}))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "seed":
        seed(*args)
    elif cmd == "aliases":
        aliases(*args)
    elif cmd == "run":
        tuxedo, user, password, a, b, runs = args
        asyncio.run(run(tuxedo, user, password, a, b, int(runs)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
