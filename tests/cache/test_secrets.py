"""Masking over generated passwords: every printable character, raw or percent-encoded, in every URL scheme the
cache accepts and in ODBC connection strings, braced or not."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from farm.cache import CacheConfigError, from_url, mask_secrets
from farm.cache.sql.target import _odbc_value, parse_sql_target
from tests.fuzzing import examples

pytestmark = pytest.mark.fuzz

URL_SCHEMES = ["redis", "rediss", "postgresql", "postgres", "mariadb", "mysql", "mssql", "sqlserver"]
SQL_SCHEMES = {"postgresql": "Pwd", "mariadb": "Password", "mysql": "Password", "mssql": "PWD"}

# Printable: letters, marks, digits, punctuation and symbols of all of Unicode; no control characters.
visible = st.characters(categories=["L", "M", "N", "P", "S"])
printable = st.characters(categories=["L", "M", "N", "P", "S", "Zs"])
raw_url_passwords = st.text(visible, min_size=1, max_size=40)
passwords = st.text(printable, min_size=1, max_size=40)
users = st.from_regex(r"[A-Za-z0-9._-]{0,12}", fullmatch=True)
hosts = st.sampled_from(["127.0.0.1", "cache.example", "db", "[::1]"])
tails = st.sampled_from(["", ":6379", ":5432/shop", "/0", ":1433/shop?table=Entries&schema=dbo", "/0?db=1"])
around = st.sampled_from([("", ""), ("cannot reach ", ": connection refused"), ("bad URL '", "' (check it)")])


@examples(100)
@given(st.sampled_from(URL_SCHEMES), users, raw_url_passwords, hosts, tails, around)
def test_a_raw_password_in_a_url_is_masked_whole(
    scheme: str, user: str, password: str, host: str, tail: str, context: tuple[str, str]
) -> None:
    """Raw: as a user pastes it, '/', '#', '?', '@' and ':' included (it breaks the URL, but it is a password)."""
    before, after = context
    text = f"{before}{scheme}://{user}:{password}@{host}{tail}{after}"
    assert mask_secrets(text) == f"{before}{scheme}://{user}:***@{host}{tail}{after}"


@examples(100)
@given(st.sampled_from(URL_SCHEMES), users, passwords, hosts, tails, around)
def test_a_percent_encoded_password_in_a_url_is_masked(
    scheme: str, user: str, password: str, host: str, tail: str, context: tuple[str, str]
) -> None:
    before, after = context
    text = f"{before}{scheme}://{user}:{quote(password, safe='')}@{host}{tail}{after}"
    assert mask_secrets(text) == f"{before}{scheme}://{user}:***@{host}{tail}{after}"


@examples(100)
@given(st.sampled_from(URL_SCHEMES), passwords, st.sampled_from(["password", "PWD", "token", "secret"]))
def test_a_password_in_a_url_query_is_masked(scheme: str, password: str, key: str) -> None:
    text = f"{scheme}://db/shop?table=T&{key}={quote(password, safe='')}&schema=s"
    assert mask_secrets(text) == f"{scheme}://db/shop?table=T&{key}=***&schema=s"


@examples(100)
@given(st.sampled_from(sorted(SQL_SCHEMES)), passwords)
def test_the_odbc_string_built_from_a_url_shows_no_password(scheme: str, password: str) -> None:
    """Whatever the password, the connection string the SQL cache builds (braced where ODBC needs it) is masked."""
    target = parse_sql_target(f"{scheme}://app:{quote(password, safe='')}@db.local/shop")
    key = SQL_SCHEMES[scheme]
    written = f";{key}={_odbc_value(key, password)};"
    assert written in target.connection_string
    assert target.masked == target.connection_string.replace(written, f";{key}=***;")


@examples(100)
@given(passwords, st.sampled_from(["PWD", "Pwd", "Password", "pwd "]), st.booleans())
def test_a_password_in_an_odbc_string_is_masked_braced_or_not(password: str, key: str, at_end: bool) -> None:
    braced = "{" + password.replace("}", "}}") + "}"
    forms = [braced]
    # ODBC needs braces only around a value with ';' or a leading '{'; spaces may stand unbraced, but not lead
    # (a driver trims them).
    if ";" not in password and not password.startswith("{") and not password[0].isspace():
        forms.append(password)
    for form in forms:
        tail = "" if at_end else ";Uid=app;Database=shop"
        text = f"Driver={{PostgreSQL Unicode}};Server=db;{key}={form}{tail}"
        assert mask_secrets(text) == f"Driver={{PostgreSQL Unicode}};Server=db;{key}=***{tail}"


@examples(100)
@given(raw_url_passwords, st.sampled_from(["redis", "rediss", "postgresql", "mysql", "ftp"]))
def test_errors_and_reprs_of_urls_with_raw_passwords_do_not_show_them(generated: str, scheme: str) -> None:
    """A raw password breaks the URL in many ways (a bad port, no host, an unknown scheme): whatever the cache
    makes of it, the error or the cache's repr shows no password."""
    password = f"«{generated}»"  # told apart from the message's own words
    for tail in ("cache.example:notaport/0", "cache.example:6379/0"):
        url = f"{scheme}://app:{password}@{tail}"
        assume(password not in f"{scheme}://app:***@{tail}")
        try:
            cache = from_url(url)
        except CacheConfigError as exc:
            shown = str(exc)
        else:  # nothing connects until used
            shown = repr(cache)
            cache.close()
        assert password not in shown
