"""A three-node farm on a shared Redis: requests through the proxy with their headers, a write, and down.

.venv/bin/python examples/farm_tour.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path


def farm(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "farm.cli", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"farm {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def request(method: str, url: str, body: dict[str, object] | None = None) -> None:
    data = json.dumps(body).encode() if body else None
    call = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=10) as reply:
        item = json.loads(reply.read())
        h = reply.headers
        cache = h.get("X-Cache", "-")
        print(
            f"  {method:<3} {url.split('/', 3)[3]:<9} {h['X-Node']:<7} X-Cache {cache:<4} version {item['version']}  "
            f"Last-Server-Start-Time {h['Last-Server-Start-Time']}"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cachefarm-tour-") as tmp:
        run = str(Path(tmp) / "farm")
        print("$ farm up --nodes 3 --cache redis")
        print("  " + farm("up", "--nodes", "3", "--cache", "redis", "--run-dir", run).replace("\n", "\n  ").rstrip())
        try:
            proxy = json.loads(farm("status", "--json", "--run-dir", run))["proxy"]
            print("Reads through the round-robin proxy: one miss, then every node hits the shared cache.")
            for _ in range(4):
                request("GET", f"{proxy}/items/42")
            print("A write through one node puts the new version in the shared cache; every node reads it at once.")
            request("PUT", f"{proxy}/items/42", {"price": 12.5})
            for _ in range(3):
                request("GET", f"{proxy}/items/42")
        finally:
            print("$ farm down")
            print("  " + farm("down", "--run-dir", run).strip())


if __name__ == "__main__":
    main()
