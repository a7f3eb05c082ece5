"""Masks passwords in URLs and ODBC connection strings before anything is printed or logged."""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host  ->  scheme://user:***@host (the password may itself contain '@' or ':').
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*:)(?P<secret>[^\s/?#]*)(?P<tail>@)")
# password=... in a URL query or an ODBC string, braced ({a;b}) or plain up to ';' or '&'.
_KEY_VALUE = re.compile(
    r"(?P<head>(?<![A-Za-z0-9_])(?:pwd|password|passwd|pass|token|secret)\s*=\s*)(?P<secret>\{(?:[^}]|\}\})*\}|[^;&\s]*)",
    re.IGNORECASE,
)


def mask_secrets(text: str) -> str:
    """The text with every password or token it holds replaced by ``***``."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + (MASK if m["secret"] else "") + m["tail"], text)
    return _KEY_VALUE.sub(lambda m: m["head"] + (MASK if m["secret"] else ""), text)
