"""Turns a SQL cache URL or an ODBC connection string into what pyodbc needs, and names its dialect."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from farm.cache.errors import CacheConfigError
from farm.cache.secrets import mask_secrets, split_url
from farm.cache.sql.dialects import DIALECTS, Dialect

DEFAULT_TABLE = "DistributedCache"

# URL scheme -> (dialect, default ODBC driver name as Debian's packages register it, default port)
SCHEMES: dict[str, tuple[str, str, int | None]] = {
    "postgresql": ("postgresql", "PostgreSQL Unicode", 5432),
    "postgres": ("postgresql", "PostgreSQL Unicode", 5432),
    "mariadb": ("mariadb", "MariaDB Unicode", 3306),
    "mysql": ("mariadb", "MariaDB Unicode", 3306),
    "sqlite": ("sqlite", "SQLite3", None),
    "mssql": ("sqlserver", "ODBC Driver 18 for SQL Server", 1433),
    "sqlserver": ("sqlserver", "ODBC Driver 18 for SQL Server", 1433),
}
# Words in an ODBC driver's name -> dialect, for plain connection strings.
_DRIVER_WORDS = (
    ("postgres", "postgresql"),
    ("maria", "mariadb"),
    ("mysql", "mariadb"),
    ("sqlite", "sqlite"),
    ("sql server", "sqlserver"),
    ("sqlncli", "sqlserver"),
)
_CACHE_PARAMS = {"table", "schema", "driver"}


@dataclass(frozen=True)
class SqlTarget:
    """Where a SQL cache lives: ODBC connection string, dialect, schema and table."""

    connection_string: str
    dialect: Dialect
    schema: str | None
    table: str

    @property
    def masked(self) -> str:
        return mask_secrets(self.connection_string)


def is_sql_url(url: str) -> bool:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    return scheme in SCHEMES or is_odbc_string(url)


def is_odbc_string(text: str) -> bool:
    return "://" not in text and "=" in text and re.match(r"\s*[A-Za-z ]+\s*=", text) is not None


def _odbc_value(name: str, value: str) -> str:
    needs_braces = name == "Driver" or re.search(r"[;{}\s]", value)
    return "{" + value.replace("}", "}}") + "}" if needs_braces else value


def _odbc_attributes(text: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for match in re.finditer(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)\s*(?:;|$)", text):
        value = match[2]
        if value.startswith("{"):
            value = value[1:-1].replace("}}", "}")
        attributes[match[1].lower()] = value
    return attributes


def parse_sql_target(
    url: str, *, table: str | None = None, schema: str | None = None, dialect: str | None = None
) -> SqlTarget:
    """A target from ``postgresql://``, ``mariadb://``/``mysql://``, ``sqlite:///path``, ``mssql://`` URLs or
    an ODBC connection string; ``table``/``schema`` arguments win over the URL's query."""
    if dialect is not None and dialect not in DIALECTS:
        raise CacheConfigError(f"unknown SQL dialect {dialect!r}: use one of {', '.join(sorted(DIALECTS))}")
    if is_odbc_string(url):
        name = dialect or _dialect_of_odbc(url)
        chosen = DIALECTS[name]
        return _target(url, chosen, schema, table)
    parts = split_url(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise CacheConfigError(
            f"unknown SQL cache URL scheme {scheme!r} in {mask_secrets(url)}: "
            f"use one of {', '.join(sorted(SCHEMES))}, or an ODBC connection string"
        )
    name, driver, default_port = SCHEMES[scheme]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    driver = query.get("driver", driver)
    extra = {k: v for k, v in query.items() if k not in _CACHE_PARAMS}
    try:
        port = parts.port or default_port
    except ValueError:
        raise CacheConfigError(f"bad port in SQL cache URL {mask_secrets(url)}") from None
    chosen = DIALECTS[dialect or name]
    if chosen.name == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise CacheConfigError(
                f"SQLite URL {mask_secrets(url)} names no file: use sqlite:///relative.db or sqlite:////absolute/path.db"
            )
        attributes = {"Driver": driver, "Database": path, "Timeout": "10000", "BigInt": "1", **extra}
    else:
        if not parts.hostname:
            raise CacheConfigError(f"SQL cache URL {mask_secrets(url)} names no host")
        database = unquote(parts.path.lstrip("/"))
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        attributes = _server_attributes(chosen.name, driver, parts.hostname, port, database, user, password)
        attributes.update(extra)
    connection_string = ";".join(f"{k}={_odbc_value(k, v)}" for k, v in attributes.items() if v is not None) + ";"
    return _target(connection_string, chosen, schema or query.get("schema"), table or query.get("table"))


def _server_attributes(
    dialect: str,
    driver: str,
    host: str,
    port: int | None,
    database: str,
    user: str | None,
    password: str | None,
) -> dict[str, str]:
    if dialect == "sqlserver":
        server = host if port is None else f"{host},{port}"
        return _without_none(
            {"Driver": driver, "Server": server, "Database": database or None, "UID": user, "PWD": password}
        )
    common = {
        "Driver": driver,
        "Server": host,
        "Port": str(port) if port else None,
        "Database": database or None,
    }
    if dialect == "postgresql":
        # CommLog=0: Debian's driver entry turns on a log file per process otherwise.
        return _without_none({**common, "Uid": user, "Pwd": password, "CommLog": "0"})
    return _without_none({**common, "User": user, "Password": password})


def _without_none(attributes: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in attributes.items() if v is not None}


def _dialect_of_odbc(connection_string: str) -> str:
    driver = _odbc_attributes(connection_string).get("driver", "").lower()
    for word, name in _DRIVER_WORDS:
        if word in driver:
            return name
    raise CacheConfigError(
        f"cannot tell the SQL dialect of {mask_secrets(connection_string)}: name the driver "
        f"(Driver={{PostgreSQL Unicode}}, ...) or pass dialect= one of {', '.join(sorted(DIALECTS))}"
    )


def _target(connection_string: str, dialect: Dialect, schema: str | None, table: str | None) -> SqlTarget:
    if dialect.name == "sqlite" and "bigint" not in _odbc_attributes(connection_string):
        # Without it the SQLite driver reports computed integers as 32-bit and truncates them.
        connection_string = connection_string.rstrip(";") + ";BigInt=1;"
    schema = schema or dialect.default_schema
    table = table or DEFAULT_TABLE
    if schema is not None:
        dialect.check_identifier("schema", schema)
    dialect.check_identifier("table", table)
    return SqlTarget(connection_string, dialect, schema, table)
