"""Masks passwords in URLs and ODBC connection strings before anything is printed or logged.

Masking errs on the side of hiding: a password that breaks its URL (a raw ``/``, ``?``, ``#`` or ``@`` that should
have been percent-encoded) is still masked whole, up to the last ``@`` of the URL. Whitespace ends a URL, so a
URL password holding whitespace must be percent-encoded (``from_url`` refuses a URL with whitespace in it).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from farm.cache.errors import CacheConfigError

MASK = "***"

_SECRET_KEYS = r"pwd|password|passwd|pass|token|secret"
# scheme://user:password@host -> scheme://user:***@host. The password runs to the last '@' before whitespace,
# as Python's URL parser takes the last '@' of the authority: it may itself hold '@', ':', '/', '?' or '#'.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#\s]*:)(?P<secret>\S*)(?P<tail>@)")
# password=... in a URL's query: up to the next '&', '#' or whitespace.
_QUERY_VALUE = re.compile(rf"(?P<head>(?<=[?&])(?:{_SECRET_KEYS})=)(?P<secret>[^&#\s]*)", re.IGNORECASE)
# PWD=... in an ODBC connection string (or KEY=VALUE text): braced as ODBC quotes ({a;b}}c} is "a;b}c"), or
# plain up to the next ';' or line end, spaces included.
_KEY_VALUE = re.compile(
    rf"(?P<head>(?<![A-Za-z0-9_?&])(?:{_SECRET_KEYS})\s*=\s*)(?P<secret>\{{(?:[^}}]|\}}\}})*\}}|[^;\r\n]*)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """The text with every password or token it holds replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + (MASK if m["secret"] else "") + m["tail"], text)
    text = _QUERY_VALUE.sub(lambda m: m["head"] + (MASK if m["secret"] else ""), text)
    return _KEY_VALUE.sub(lambda m: m["head"] + (MASK if m["secret"] else ""), text)


def split_url(url: str) -> SplitResult:
    """``urlsplit``, whose ValueError becomes a ``CacheConfigError`` that shows neither the password nor urlsplit's
    own message (which quotes the URL's authority, password and all)."""
    try:
        return urlsplit(url)
    except ValueError as exc:
        if "IPv6" in str(exc):
            reason = "an unbalanced '[' or ']' (an IPv6 host goes in [brackets]; in a password: %5B and %5D)"
        elif "NFKC" in str(exc):
            reason = "characters that Unicode normalisation turns into '/', '?', '#', '@' or ':' (percent-encode them)"
        else:
            reason = "it cannot be parsed (percent-encode the password)"
        raise CacheConfigError(f"malformed cache URL {mask_secrets(url)}: {reason}") from None
