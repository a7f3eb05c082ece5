"""One reading of a request's path, for routing (admin API or backend) and forwarding alike.

Were the proxy to route on the path as sent and a backend to read it normalised, ``/x/../_proxy/backends``
would pass as a backend path and reach the node as ``/_proxy/backends``. So the path is normalised once
(RFC 3986: percent-encoded unreserved characters decoded, so ``%2e`` is a dot; dot-segments removed; runs of
slashes merged, as nginx merges them), routed, and forwarded as it was routed. A path that a server decoding
everything (``%2F`` and ``%5C`` as slashes) would route differently is ambiguous, and refused.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from proxy.wire import origin_form

ADMIN_PREFIX = b"/_proxy"
"""Requests under it go to the admin API, never to a backend."""

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_SLASHES = re.compile(rb"/{2,}")


def is_admin(path: bytes) -> bool:
    """/_proxy, /_proxy/... and /_proxy?...: not /_proxyfoo, which a backend may serve."""
    return path.startswith(ADMIN_PREFIX) and path[len(ADMIN_PREFIX) :][:1] in (b"", b"/", b"?")


def normal_target(target: bytes) -> bytes | None:
    """The origin-form target to route and forward, or None when the path is ambiguous (answered 400)."""
    target = origin_form(target)
    if not (b"%" in target or b"/." in target or b"//" in target or b"\\" in target):
        return target  # nothing to normalise: the common case costs four scans
    path, sep, query = target.partition(b"?")
    if not path.startswith(b"/"):
        return target
    path = _normal_path(_ESCAPE.sub(_unescape_unreserved, path))
    lenient = _normal_path(unquote_to_bytes(path).replace(b"\\", b"/"))
    if is_admin(path) != is_admin(lenient):
        return None
    return path + sep + query


def _unescape_unreserved(match: re.Match[bytes]) -> bytes:
    value = int(match[1], 16)
    return bytes([value]) if value in _UNRESERVED else b"%" + match[1].upper()


def _normal_path(path: bytes) -> bytes:
    """Runs of slashes merged, then ``.`` and ``..`` segments resolved (never above the root)."""
    segments = _SLASHES.sub(b"/", path).split(b"/")[1:]
    kept: list[bytes] = []
    for segment in segments:
        if segment == b"..":
            if kept:
                kept.pop()
        elif segment != b".":
            kept.append(segment)
    normal = b"/" + b"/".join(kept)
    if segments and segments[-1] in (b".", b"..") and normal != b"/":
        normal += b"/"  # /a/b/.. is the folder /a/
    return normal
