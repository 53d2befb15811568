#!/usr/bin/env python3
"""Loads the quickstart's demo catalogue through tuxedo's APIs, as its real clients do.

Products, languages, locations and aliases go through the XML API (release automation's
path); operating systems, regions, countries and mirrors through the JSON API (operators').
Usage: load_demo.py TUXEDO_URL USER PASSWORD MIRROR_EU_URL MIRROR_NA_URL
Standard library only, so a fresh machine needs nothing installed.
"""
import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

tuxedo, user, password, mirror_eu, mirror_na = sys.argv[1:6]
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(method, path, body=None, form=None):
    data, headers = None, {"Authorization": auth}
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(tuxedo + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")
    return json.loads(text) if text.startswith(("{", "[")) else text


for priority, name in enumerate(["win", "win64", "osx", "linux64"]):
    call("POST", "/api/v2/oses", {"name": name, "priority": priority})

europe = call("POST", "/api/v2/regions", {"name": "Europe", "throttle": 100})["id"]
america = call("POST", "/api/v2/regions", {"name": "North America", "throttle": 100, "fallback_id": europe})["id"]
for code, region in [("DE", europe), ("FR", europe), ("GB", europe), ("US", america), ("CA", america)]:
    call("PUT", f"/api/v2/countries/{code}", {"region_id": region})
for name, base, rating, region in [("demo-eu", mirror_eu, 100, europe), ("demo-na", mirror_na, 60, america)]:
    mirror = call("POST", "/api/v2/mirrors", {"name": name, "baseurl": base, "rating": rating, "active": True})
    call("PUT", f"/api/v2/mirrors/{mirror['id']}/regions/{region}")

files = {
    "win": "/firefox/releases/130.0/win32/:lang/Firefox%20Setup%20130.0.exe",
    "win64": "/firefox/releases/130.0/win64/:lang/Firefox%20Setup%20130.0.exe",
    "osx": "/firefox/releases/130.0/mac/:lang/Firefox%20130.0.dmg",
    "linux64": "/firefox/releases/130.0/linux-x86_64/:lang/firefox-130.0.tar.bz2",
}
for product, langs in [("Firefox-130.0", ["en-US", "de", "fr"]), ("Firefox-130.0-SSL", ["en-US", "de", "fr"])]:
    call("POST", "/api/product_add/", form={"product": product, "languages": langs, "ssl_only": str(product.endswith("SSL")).lower()})
    for os_name, path in files.items():
        call("POST", "/api/location_add/", form={"product": product, "os": os_name, "path": path})
for alias, product in [("firefox-latest", "Firefox-130.0"), ("firefox-latest-ssl", "Firefox-130.0-SSL"), ("firefox-stub", "Firefox-130.0")]:
    call("POST", "/api/create_update_alias/", form={"alias": alias, "related_product": product})
print("demo catalogue loaded: 2 products x 4 OSes x 3 languages, 3 aliases, 2 mirrors in 2 regions")
