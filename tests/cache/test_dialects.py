"""The generated SQL, checked as text: the only way SQL Server is checked where none runs."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest

from farm.cache import InvalidIdentifierError
from farm.cache.sql.dialects import DIALECTS, read_datetimeoffset

MSSQL = DIALECTS["sqlserver"]

DOTNET_DDL = """CREATE TABLE [dbo].[TestCache] (
    Id nvarchar(449) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL,
    Value varbinary(MAX) NOT NULL,
    ExpiresAtTime datetimeoffset NOT NULL,
    SlidingExpirationInSeconds bigint NULL,
    AbsoluteExpiration datetimeoffset NULL,
    PRIMARY KEY (Id)
)"""


def test_sql_server_ddl_is_the_dotnet_table_and_index() -> None:
    assert MSSQL.create_table("dbo", "TestCache", if_not_exists=False) == [
        DOTNET_DDL,
        "CREATE NONCLUSTERED INDEX [Index_ExpiresAtTime] ON [dbo].[TestCache](ExpiresAtTime)",
    ]


def test_sql_server_guarded_ddl_runs_only_when_the_table_is_missing() -> None:
    (script,) = MSSQL.create_table("dbo", "TestCache", if_not_exists=True)
    assert script.startswith("IF OBJECT_ID(N'[dbo].[TestCache]', N'U') IS NULL\nBEGIN\n")
    assert DOTNET_DDL in script
    assert script.endswith("END")
    assert MSSQL.drop_table("dbo", "T", if_exists=True) == [
        "IF OBJECT_ID(N'[dbo].[T]', N'U') IS NOT NULL DROP TABLE [dbo].[T]"
    ]


def test_sql_server_set_is_one_merge_statement() -> None:
    sql = MSSQL.upsert("[dbo].[TestCache]")
    assert sql.startswith("MERGE [dbo].[TestCache] WITH (HOLDLOCK) AS target USING (SELECT CAST(? AS nvarchar(449))")
    assert sql.count("?") == 5
    assert "WHEN MATCHED THEN UPDATE SET [Value] = source.[Value]" in sql
    assert sql.endswith("VALUES (source.[Id], source.[Value], source.[ExpiresAtTime], "
                        "source.[SlidingExpirationInSeconds], source.[AbsoluteExpiration]);")  # fmt: skip


def test_sql_server_add_is_a_merge_that_never_updates() -> None:
    sql = MSSQL.insert_if_absent("[dbo].[TestCache]")
    assert sql.startswith("MERGE [dbo].[TestCache] WITH (HOLDLOCK) AS target USING (SELECT CAST(? AS nvarchar(449))")
    assert sql.count("?") == 5
    assert "WHEN MATCHED" not in sql
    assert "WHEN NOT MATCHED THEN INSERT ([Id], [Value], [ExpiresAtTime]" in sql
    assert MSSQL.delete_if_expired("[dbo].[T]") == "DELETE FROM [dbo].[T] WHERE [Id] = ? AND [ExpiresAtTime] < ?"


def test_sql_server_sweep_deletes_a_bounded_batch() -> None:
    assert MSSQL.delete_expired_batch("[dbo].[T]", 500) == "DELETE TOP (500) FROM [dbo].[T] WHERE [ExpiresAtTime] < ?"


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_dialect_sets_with_a_single_upsert_statement(name: str) -> None:
    sql = DIALECTS[name].upsert("t")
    assert sql.count("?") == 5
    assert ";" not in sql.rstrip(";")


@pytest.mark.parametrize("name", sorted(DIALECTS))
@pytest.mark.parametrize("bad", ["t]; DROP TABLE x; --", 't"', "t`", "ta ble"])
def test_no_dialect_lets_a_name_escape_its_quotes(name: str, bad: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="not a plain identifier"):
        DIALECTS[name].create_table("s", bad, if_not_exists=False)
    with pytest.raises(InvalidIdentifierError, match="schema name"):
        DIALECTS[name].table_ref(bad, "t")


def test_sql_server_datetimeoffset_is_read_with_its_offset() -> None:
    raw = struct.pack("<6hI2h", 2026, 3, 4, 5, 6, 7, 123_456_700, 2, 30)
    value = read_datetimeoffset(raw)
    assert value == datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=timezone(timedelta(hours=2, minutes=30)))
    assert value.astimezone(UTC) == datetime(2026, 3, 4, 2, 36, 7, 123456, tzinfo=UTC)


def test_time_parameters_keep_microseconds_in_utc() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert DIALECTS["mariadb"].time_param(moment) == "2026-03-04 04:06:07.123456"
    assert DIALECTS["sqlite"].time_param(moment) == "2026-03-04 04:06:07.123456"
    assert DIALECTS["postgresql"].time_param(moment) == datetime(2026, 3, 4, 4, 6, 7, 123456)
    assert DIALECTS["sqlite"].read_time("2026-03-04 04:06:07.123456") == moment
