"""The node's home page, after the ASP.NET Core distributed cache sample."""

from __future__ import annotations

from html import escape

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>cachefarm {node}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:40rem}}dt{{font-weight:600}}</style></head>
<body>
<h1>Distributed cache sample</h1>
<dl>
<dt>Served by</dt><dd id="node">{node}</dd>
<dt>Last server start time</dt><dd id="last-server-start-time">{last_start}</dd>
<dt>Cached time</dt><dd id="cached-time">{cached_time}</dd>
</dl>
<p>The cached time is kept for 20 seconds after it was last read (a sliding expiration), in the cache
that every server of the farm shares.</p>
<form method="post" action="/reset-cached-time"><button type="submit">Reset Cached Time</button></form>
</body>
</html>
"""


def home_page(node: str, last_start: str, cached_time: str | None) -> str:
    return PAGE.format(
        node=escape(node), last_start=escape(last_start), cached_time=escape(cached_time or "Cached Time Expired")
    )
