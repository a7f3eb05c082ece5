"""``farm sql-cache``: run as a user runs it, a real process against real databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyodbc
import pytest

from farm.ports import free_port
from farm.testing.servers import ServerProcess


def farm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "farm.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def table_exists(connection: str, table: str) -> bool:
    conn = pyodbc.connect(connection, autocommit=True)
    try:
        return any(row.table_name == table for row in conn.cursor().tables(table=table))
    finally:
        conn.close()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(URL, schema, ODBC connection string) of a real database."""
    if request.param == "postgresql":
        server: ServerProcess = request.getfixturevalue("postgresql_server")
        url, schema = server.url, "public"
    elif request.param == "mariadb":
        url, schema = request.getfixturevalue("mariadb_server").url, "cachefarm"
    else:
        url, schema = f"sqlite:///{tmp_path / 'cache.db'}", "main"
    from farm.cache.sql import parse_sql_target

    return url, schema, parse_sql_target(url).connection_string


def test_create_then_drop(database: tuple[str, str, str]) -> None:
    url, schema, odbc = database
    created = farm("sql-cache", "create", url, schema, "CliCache")
    assert created.returncode == 0, created.stderr
    assert "Table and index were created" in created.stdout
    assert table_exists(odbc, "CliCache")
    again = farm("sql-cache", "create", url, schema, "CliCache")
    assert again.returncode == 1
    assert "add --if-not-exists" in again.stderr
    assert farm("sql-cache", "create", url, schema, "CliCache", "--if-not-exists").returncode == 0
    dropped = farm("sql-cache", "drop", url, schema, "CliCache")
    assert dropped.returncode == 0, dropped.stderr
    assert not table_exists(odbc, "CliCache")
    assert farm("sql-cache", "drop", url, schema, "CliCache").returncode == 1
    assert farm("sql-cache", "drop", url, schema, "CliCache", "--if-exists").returncode == 0


def test_an_odbc_connection_string_works_too(database: tuple[str, str, str]) -> None:
    _, schema, odbc = database
    assert farm("sql-cache", "create", odbc, schema, "OdbcCache").returncode == 0
    assert table_exists(odbc, "OdbcCache")
    assert farm("sql-cache", "drop", odbc, schema, "OdbcCache").returncode == 0


def test_dry_run_prints_the_ddl_and_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dry.db'}"
    result = farm("sql-cache", "create", url, "main", "DryCache", "--dry-run")
    assert result.returncode == 0
    assert 'CREATE TABLE "main"."DryCache"' in result.stdout
    assert 'CREATE INDEX "main"."DryCache_Index_ExpiresAtTime" ON "DryCache" ("ExpiresAtTime");' in result.stdout
    assert not (tmp_path / "dry.db").exists()


def test_dry_run_for_sql_server_needs_no_server_or_driver() -> None:
    result = farm("sql-cache", "create", "mssql://sa:Pa55word@sql.example/app", "dbo", "TestCache", "--dry-run")
    assert result.returncode == 0
    assert "CREATE TABLE [dbo].[TestCache]" in result.stdout
    assert "CREATE NONCLUSTERED INDEX [Index_ExpiresAtTime] ON [dbo].[TestCache](ExpiresAtTime);" in result.stdout
    assert "Pa55word" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("schema", "table", "bad"),
    [("public", "x; DROP TABLE users", "table name 'x; DROP TABLE users'"), ("pub lic", "T", "schema name 'pub lic'")],
)
def test_names_that_are_not_plain_identifiers_are_refused(schema: str, table: str, bad: str) -> None:
    result = farm("sql-cache", "create", "postgresql://u:Pa55word@127.0.0.1/db", schema, table)
    assert result.returncode == 2
    assert bad in result.stderr
    assert "Pa55word" not in result.stderr


def test_unknown_connection_is_bad_input() -> None:
    result = farm("sql-cache", "create", "oracle://scott:tiger@db/orcl", "s", "t")
    assert result.returncode == 2
    assert "unknown SQL cache URL scheme 'oracle'" in result.stderr
    assert "tiger" not in result.stderr


def test_database_errors_exit_1_with_the_password_masked() -> None:
    result = farm("sql-cache", "create", f"postgresql://u:Pa55word@127.0.0.1:{free_port()}/db", "public", "T")
    assert result.returncode == 1
    assert "cannot connect" in result.stderr
    assert "Pa55word" not in result.stderr
    assert "Pwd=***" in result.stderr


def test_missing_arguments_are_bad_input() -> None:
    result = farm("sql-cache", "create", "sqlite:///x.db")
    assert result.returncode == 2
    assert "SCHEMA" in result.stderr
