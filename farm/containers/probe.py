"""``python -m farm.containers.probe URL``: the containers' healthcheck (the images have no curl).

Exit 0 when URL answers 2xx within two seconds, 1 otherwise, with the reason on stderr (``docker inspect`` shows
it). ``--token-from VAR`` sends the bearer token held in that environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request

TIMEOUT_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m farm.containers.probe")
    parser.add_argument("url")
    parser.add_argument("--token-from", metavar="VAR", help="environment variable holding a bearer token")
    args = parser.parse_args()
    headers = {}
    if args.token_from:
        headers["Authorization"] = f"Bearer {os.environ.get(args.token_from, '')}"
    try:
        with urllib.request.urlopen(urllib.request.Request(args.url, headers=headers), timeout=TIMEOUT_S) as reply:
            reply.read()
    except (OSError, ValueError) as exc:
        print(f"{args.url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
