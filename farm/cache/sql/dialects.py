"""The SQL of the cache table, per database: DDL, the upsert, reads, slides and the batched sweep.

Every dialect stores the columns of the .NET SQL Server cache (``Id``, ``Value``, ``ExpiresAtTime``,
``SlidingExpirationInSeconds``, ``AbsoluteExpiration``) with the nearest equivalent types. Statements take
``?`` parameters; identifiers are checked by ``check_identifier`` and then quoted.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, ClassVar

from farm.cache.errors import InvalidIdentifierError
from farm.cache.ticks import epoch_micros

KEY_COLUMN_LENGTH = 449
IDLE_TRANSACTION_S = 1.0
"""How long a server keeps a transaction whose client went quiet (with a statement timeout set)."""
INDEX_NAME = "Index_ExpiresAtTime"
COLUMNS = ("Id", "Value", "ExpiresAtTime", "SlidingExpirationInSeconds", "AbsoluteExpiration")
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Dialect(ABC):
    name: ClassVar[str]
    default_schema: ClassVar[str | None]
    max_identifier_length: ClassVar[int]
    # Where index names are unique per schema rather than per table, the table's name prefixes it.
    index_names_per_schema: ClassVar[bool] = False
    binds_text_as_utf8: ClassVar[bool] = False
    """Text parameters go to the driver as UTF-8 rather than UTF-16 (pyodbc's ``setencoding``)."""

    # -- identifiers -------------------------------------------------------------------------------
    @abstractmethod
    def quote(self, identifier: str) -> str: ...

    def check_identifier(self, what: str, name: str) -> str:
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise InvalidIdentifierError(
                f"{what} name {name!r} is not a plain identifier: use letters, digits and '_', "
                "not starting with a digit"
            )
        if len(name) > self.max_identifier_length:
            raise InvalidIdentifierError(
                f"{what} name {name!r} is {len(name)} characters long; {self.name} allows at most "
                f"{self.max_identifier_length}"
            )
        return name

    def table_ref(self, schema: str | None, table: str) -> str:
        self.check_identifier("table", table)
        if schema is None:
            return self.quote(table)
        return f"{self.quote(self.check_identifier('schema', schema))}.{self.quote(table)}"

    def index_name(self, table: str) -> str:
        name = f"{table}_{INDEX_NAME}" if self.index_names_per_schema else INDEX_NAME
        return self.check_identifier("index", name)

    def columns(self) -> str:
        return ", ".join(self.quote(c) for c in COLUMNS)

    # -- values ------------------------------------------------------------------------------------
    def time_param(self, moment: datetime) -> Any:
        """A UTC instant as the driver should bind it: naive UTC unless a dialect needs otherwise."""
        return moment.astimezone(UTC).replace(tzinfo=None)

    def read_time(self, value: Any) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a timestamp from the database, got {type(value).__name__}: {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def read_micros(self, value: Any) -> int | None:
        """What a column selected through ``epoch_micros`` holds, as epoch microseconds."""
        if value is None or type(value) is int:
            return value
        return epoch_micros(self.read_time(value))

    def read_expiry(self, row: Sequence[Any]) -> tuple[int | None, int | None, int | None]:
        """The expiry, sliding seconds and absolute expiration of a row of ``select_entry`` or ``select_expiry``
        (the last columns), the times as epoch microseconds."""
        read_micros = self.read_micros
        return read_micros(row[-3]), row[-2], read_micros(row[-1])

    def session_setup(self) -> list[str]:
        """Statements run once on every new connection."""
        return []

    def statement_timeout(self, seconds: float) -> list[str]:
        """Statements that make the server abandon any statement of this session after ``seconds``, and end a
        transaction left idle for ``IDLE_TRANSACTION_S`` (or ``seconds`` if longer), so that work the client gave
        up on cannot run on, or commit, long after (none where the database has no such limit)."""
        return []

    clock_micros: ClassVar[str | None] = None
    """The database's clock as epoch microseconds *when the statement runs* (not when its transaction began):
    what write locks and deadlines compare with. None: the dialect has no write locks."""

    fence_key_type: ClassVar[str] = f"varchar({KEY_COLUMN_LENGTH}) NOT NULL PRIMARY KEY"
    table_suffix: ClassVar[str] = ""

    def insert_ignore(self, ref: str, columns: str, values: str) -> str:
        """An insert that does nothing where the key is already there."""
        return f"INSERT INTO {ref} ({columns}) VALUES ({values}) ON CONFLICT ({self.quote('Id')}) DO NOTHING"

    # -- DDL ---------------------------------------------------------------------------------------
    @abstractmethod
    def create_table(self, schema: str | None, table: str, *, if_not_exists: bool) -> list[str]: ...

    def drop_table(self, schema: str | None, table: str, *, if_exists: bool) -> list[str]:
        guard = "IF EXISTS " if if_exists else ""
        return [f"DROP TABLE {guard}{self.table_ref(schema, table)}"]

    # -- DML ---------------------------------------------------------------------------------------
    @abstractmethod
    def epoch_micros(self, column: str) -> str:
        """An expression for a time column as whole microseconds since 1970-01-01 UTC (NULL stays NULL).

        Reads fetch times this way because drivers turn an integer into Python far faster than a timestamp
        (MariaDB's driver took a quarter of the read's time on two timestamp columns)."""

    def select_entry(self, ref: str) -> str:
        """Params: id. The value, expiry as epoch microseconds, sliding seconds, absolute as epoch microseconds.
        The caller compares the expiry with its own clock, as .NET passes the client's "now"."""
        return f"SELECT {self.quote('Value')}, {self._expiry_columns()} FROM {ref} WHERE {self.quote('Id')} = ?"

    def select_expiry(self, ref: str) -> str:
        """Params: id. As select_entry without the value, for refresh."""
        return f"SELECT {self._expiry_columns()} FROM {ref} WHERE {self.quote('Id')} = ?"

    def _expiry_columns(self) -> str:
        q = self.quote
        return (
            f"{self.epoch_micros(q('ExpiresAtTime'))}, {q('SlidingExpirationInSeconds')}, "
            f"{self.epoch_micros(q('AbsoluteExpiration'))}"
        )

    def slide(self, ref: str) -> str:
        """Params: new expiry, id, new expiry. Moves expiry forward only, so racing readers cannot undo it."""
        q = self.quote
        return f"UPDATE {ref} SET {q('ExpiresAtTime')} = ? WHERE {q('Id')} = ? AND {q('ExpiresAtTime')} < ?"

    def upsert(self, ref: str) -> str:
        """Params: id, value, expires at, sliding seconds, absolute expiration. One statement.

        The ``ON CONFLICT`` form of PostgreSQL and SQLite; the others override it."""
        q = self.quote
        updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in COLUMNS[1:])
        return (
            f"INSERT INTO {ref} ({self.columns()}) VALUES (?, ?, ?, ?, ?) "
            f"ON CONFLICT ({q('Id')}) DO UPDATE SET {updates}"
        )

    def insert_if_absent(self, ref: str) -> str:
        """Params: as upsert. Inserts the row unless its key is there; the row count says which."""
        return (
            f"INSERT INTO {ref} ({self.columns()}) VALUES (?, ?, ?, ?, ?) ON CONFLICT ({self.quote('Id')}) DO NOTHING"
        )

    def delete_if_expired(self, ref: str) -> str:
        """Params: id, now. Clears the way for an add: an expired row counts as no entry."""
        return f"DELETE FROM {ref} WHERE {self.quote('Id')} = ? AND {self.quote('ExpiresAtTime')} < ?"

    def _create_table(self, ref: str, guard: str, types: tuple[str, ...], *extra: str) -> str:
        """CREATE TABLE with the cache's columns in .NET's order, each with its type in this dialect."""
        lines = [f"    {self.quote(c)} {t}" for c, t in zip(COLUMNS, types, strict=True)]
        lines += [f"    {line}" for line in extra]
        return f"CREATE TABLE {guard}{ref} (\n" + ",\n".join(lines) + "\n)"

    def delete(self, ref: str) -> str:
        return f"DELETE FROM {ref} WHERE {self.quote('Id')} = ?"

    @abstractmethod
    def delete_expired_batch(self, ref: str, batch_size: int) -> str:
        """Params: now. Deletes at most ``batch_size`` expired rows, so that no sweep holds a long lock."""

    def select_by_key(self, ref: str) -> str:
        """Params: id. The raw row, expired or not (for tools and tests)."""
        return f"SELECT {self.columns()} FROM {ref} WHERE {self.quote('Id')} = ?"


class PostgreSQL(Dialect):
    name = "postgresql"
    default_schema = "public"
    max_identifier_length = 63
    index_names_per_schema = True

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'

    def epoch_micros(self, column: str) -> str:
        return f"CAST(EXTRACT(EPOCH FROM {column}) * 1000000 AS bigint)"

    def session_setup(self) -> list[str]:
        # The ODBC driver hands timestamptz back as a naive time in the session's zone: pin it to UTC.
        return ["SET TIME ZONE 'UTC'"]

    def statement_timeout(self, seconds: float) -> list[str]:
        # A transaction whose next statement does not come (its bytes held by a partition) is ended by the server,
        # so its COMMIT cannot arrive late and store what a newer write has replaced.
        idle = max(IDLE_TRANSACTION_S, seconds)
        return [
            f"SET statement_timeout = {max(1, round(seconds * 1000))}",
            f"SET idle_in_transaction_session_timeout = {round(idle * 1000)}",
        ]

    # clock_timestamp(), not now(): now() is the start of the transaction.
    clock_micros = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS bigint)"
    fence_key_type = f'varchar({KEY_COLUMN_LENGTH}) COLLATE "C" NOT NULL PRIMARY KEY'

    def create_table(self, schema: str | None, table: str, *, if_not_exists: bool) -> list[str]:
        ref, q, guard = self.table_ref(schema, table), self.quote, "IF NOT EXISTS " if if_not_exists else ""
        types = (
            f'varchar({KEY_COLUMN_LENGTH}) COLLATE "C" NOT NULL PRIMARY KEY',
            "bytea NOT NULL",
            "timestamptz NOT NULL",
            "bigint NULL",
            "timestamptz NULL",
        )
        return [
            self._create_table(ref, guard, types),
            f"CREATE INDEX {guard}{q(self.index_name(table))} ON {ref} ({q('ExpiresAtTime')})",
        ]

    def delete_expired_batch(self, ref: str, batch_size: int) -> str:
        q = self.quote
        # SKIP LOCKED: rows that a live request holds are left for the next sweep instead of waited for.
        return (
            f"DELETE FROM {ref} WHERE {q('Id')} IN (SELECT {q('Id')} FROM {ref} WHERE {q('ExpiresAtTime')} < ? "
            f"LIMIT {int(batch_size)} FOR UPDATE SKIP LOCKED)"
        )


class MariaDB(Dialect):
    """MariaDB and MySQL. The schema is the database; none means the connection's database."""

    name = "mariadb"
    default_schema = None
    max_identifier_length = 64
    # MariaDB Connector/ODBC 3.1 mangles UTF-16 text parameters longer than 255 characters, which pyodbc sends in
    # pieces (SQLPutData): the last character is lost, so two long keys that differ only there share one row,
    # and one with characters beyond the BMP fails ("Memory allocation error"). UTF-8 parameters arrive whole.
    binds_text_as_utf8 = True

    def quote(self, identifier: str) -> str:
        return f"`{identifier}`"

    def time_param(self, moment: datetime) -> Any:
        # The ODBC driver drops the microseconds of a bound datetime; a string keeps them.
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def epoch_micros(self, column: str) -> str:
        return f"TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column})"

    def session_setup(self) -> list[str]:
        return ["SET time_zone = '+00:00'"]

    def statement_timeout(self, seconds: float) -> list[str]:
        idle = math.ceil(max(IDLE_TRANSACTION_S, seconds))  # whole seconds only
        return [f"SET max_statement_time = {max(0.001, seconds):.3f}", f"SET SESSION idle_transaction_timeout = {idle}"]

    # SYSDATE(6), not NOW(6): NOW() is the start of the statement's query, SYSDATE() the moment it is read.
    clock_micros = "CAST(UNIX_TIMESTAMP(SYSDATE(6)) * 1000000 AS SIGNED)"
    fence_key_type = f"varchar({KEY_COLUMN_LENGTH}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY"
    table_suffix = " ENGINE=InnoDB"

    def insert_ignore(self, ref: str, columns: str, values: str) -> str:
        return f"INSERT IGNORE INTO {ref} ({columns}) VALUES ({values})"

    def create_table(self, schema: str | None, table: str, *, if_not_exists: bool) -> list[str]:
        ref, q, guard = self.table_ref(schema, table), self.quote, "IF NOT EXISTS " if if_not_exists else ""
        types = (
            f"varchar({KEY_COLUMN_LENGTH}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL",
            "longblob NOT NULL",
            "datetime(6) NOT NULL",
            "bigint NULL",
            "datetime(6) NULL",
        )
        keys = (f"PRIMARY KEY ({q('Id')})", f"INDEX {q(self.index_name(table))} ({q('ExpiresAtTime')})")
        return [self._create_table(ref, guard, types, *keys) + " ENGINE=InnoDB"]

    def upsert(self, ref: str) -> str:
        q = self.quote
        updates = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in COLUMNS[1:])
        return f"INSERT INTO {ref} ({self.columns()}) VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE {updates}"

    def insert_if_absent(self, ref: str) -> str:
        return f"INSERT IGNORE INTO {ref} ({self.columns()}) VALUES (?, ?, ?, ?, ?)"

    def delete_expired_batch(self, ref: str, batch_size: int) -> str:
        return f"DELETE FROM {ref} WHERE {self.quote('ExpiresAtTime')} < ? LIMIT {int(batch_size)}"


class SQLite(Dialect):
    """Times are ISO 8601 text of fixed width in UTC, which sorts and compares as time does."""

    name = "sqlite"
    default_schema = "main"
    max_identifier_length = 128
    index_names_per_schema = True

    def quote(self, identifier: str) -> str:
        return f'"{identifier}"'

    def time_param(self, moment: datetime) -> Any:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    def epoch_micros(self, column: str) -> str:
        # The text itself, which read_micros parses: the SQLite driver types a computed column by its first value
        # and may then hand back later integers as strings or truncate them to 32 bits. Reads fetch the expiry
        # as text too, in one column (_expiry_columns).
        return column

    def _expiry_columns(self) -> str:
        # One text column for the three, "expires|sliding|absolute": the driver costs about a microsecond per
        # column it fetches, as much as the rest of a read's own work, and SQLite answers the whole read in
        # about 10 us. (Epoch microseconds computed in SQL with strftime cost SQLite more than Python's parse.)
        q = self.quote
        sliding, absolute = q("SlidingExpirationInSeconds"), q("AbsoluteExpiration")
        return f"{q('ExpiresAtTime')} || '|' || ifnull({sliding}, '') || '|' || ifnull({absolute}, '')"

    def read_expiry(self, row: Sequence[Any]) -> tuple[int | None, int | None, int | None]:
        text = row[-1]
        return (None, None, None) if text is None else _sqlite_expiry(text)  # None: a row without ExpiresAtTime

    def session_setup(self) -> list[str]:
        # WAL lets readers go on while one writer writes; the busy timeout is set in the connection string.
        return ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"]

    # 'now' is read once per statement. SQLite runs in the client's own threads, which cannot be cancelled:
    # a statement that waited for the database's lock past its deadline is refused by this clock.
    clock_micros = "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)"

    def create_table(self, schema: str | None, table: str, *, if_not_exists: bool) -> list[str]:
        ref, q, guard = self.table_ref(schema, table), self.quote, "IF NOT EXISTS " if if_not_exists else ""
        index_ref = self.table_ref(schema, self.index_name(table))
        types = (
            f"varchar({KEY_COLUMN_LENGTH}) NOT NULL PRIMARY KEY",
            "blob NOT NULL",
            "text NOT NULL",
            "bigint NULL",
            "text NULL",
        )
        return [
            self._create_table(ref, guard, types),
            f"CREATE INDEX {guard}{index_ref} ON {q(table)} ({q('ExpiresAtTime')})",
        ]

    def delete_expired_batch(self, ref: str, batch_size: int) -> str:
        return (
            f"DELETE FROM {ref} WHERE rowid IN (SELECT rowid FROM {ref} "
            f"WHERE {self.quote('ExpiresAtTime')} < ? LIMIT {int(batch_size)})"
        )


@lru_cache(maxsize=4096)
def _sqlite_expiry(text: str) -> tuple[int, int | None, int | None]:
    """The text of SQLite's _expiry_columns, "expires|sliding|absolute", as epoch microseconds and seconds.
    Remembered: an entry read many times a second has the same text between two slides (see SqlCache's
    slide_tolerance), and parsing it was a third of the Python a read adds to its statement."""
    expires, sliding, absolute = text.split("|")
    return (
        (datetime.fromisoformat(expires) - _NAIVE_EPOCH) // _MICROSECOND,
        int(sliding) if sliding else None,
        (datetime.fromisoformat(absolute) - _NAIVE_EPOCH) // _MICROSECOND if absolute else None,
    )


SQL_SS_TIMESTAMPOFFSET = -155


def read_datetimeoffset(raw: bytes) -> datetime:
    """pyodbc output converter for SQL Server's datetimeoffset, which pyodbc cannot read on its own."""
    import struct

    year, month, day, hour, minute, second, nanos, off_h, off_m = struct.unpack("<6hI2h", raw)
    zone = timezone(timedelta(hours=off_h, minutes=off_m))
    return datetime(year, month, day, hour, minute, second, nanos // 1000, tzinfo=zone)


class SqlServer(Dialect):
    """T-SQL; the DDL is the one ``dotnet sql-cache create`` runs."""

    name = "sqlserver"
    default_schema = "dbo"
    max_identifier_length = 128

    def quote(self, identifier: str) -> str:
        return f"[{identifier}]"

    def epoch_micros(self, column: str) -> str:
        return f"DATEDIFF_BIG(microsecond, CAST('1970-01-01T00:00:00+00:00' AS datetimeoffset), {column})"

    def create_table(self, schema: str | None, table: str, *, if_not_exists: bool) -> list[str]:
        ref, q = self.table_ref(schema, table), self.quote
        create = (
            f"CREATE TABLE {ref} (\n"
            f"    Id nvarchar({KEY_COLUMN_LENGTH}) COLLATE SQL_Latin1_General_CP1_CS_AS NOT NULL,\n"
            "    Value varbinary(MAX) NOT NULL,\n"
            "    ExpiresAtTime datetimeoffset NOT NULL,\n"
            "    SlidingExpirationInSeconds bigint NULL,\n"
            "    AbsoluteExpiration datetimeoffset NULL,\n"
            "    PRIMARY KEY (Id)\n)"
        )
        index = f"CREATE NONCLUSTERED INDEX {q(self.index_name(table))} ON {ref}(ExpiresAtTime)"
        if not if_not_exists:
            return [create, index]
        literal = ref.replace("'", "''")
        return [f"IF OBJECT_ID(N'{literal}', N'U') IS NULL\nBEGIN\n{create};\n{index};\nEND"]

    def drop_table(self, schema: str | None, table: str, *, if_exists: bool) -> list[str]:
        ref = self.table_ref(schema, table)
        if not if_exists:
            return [f"DROP TABLE {ref}"]
        literal = ref.replace("'", "''")
        return [f"IF OBJECT_ID(N'{literal}', N'U') IS NOT NULL DROP TABLE {ref}"]

    def upsert(self, ref: str) -> str:
        return self._merge(ref, update=True)

    def insert_if_absent(self, ref: str) -> str:
        return self._merge(ref, update=False)

    def _merge(self, ref: str, *, update: bool) -> str:
        """MERGE with HOLDLOCK: concurrent merges of one key are serialised, as an upsert needs."""
        q = self.quote
        updates = ", ".join(f"{q(c)} = source.{q(c)}" for c in COLUMNS[1:])
        sources = ", ".join(
            f"CAST(? AS {t}) AS {q(c)}"
            for c, t in zip(
                COLUMNS,
                (
                    f"nvarchar({KEY_COLUMN_LENGTH})",
                    "varbinary(max)",
                    "datetimeoffset",
                    "bigint",
                    "datetimeoffset",
                ),
                strict=True,
            )
        )
        inserts = ", ".join(f"source.{q(c)}" for c in COLUMNS)
        return (
            f"MERGE {ref} WITH (HOLDLOCK) AS target USING (SELECT {sources}) AS source "
            f"ON target.{q('Id')} = source.{q('Id')} "
            + (f"WHEN MATCHED THEN UPDATE SET {updates} " if update else "")
            + f"WHEN NOT MATCHED THEN INSERT ({self.columns()}) VALUES ({inserts});"
        )

    def delete_expired_batch(self, ref: str, batch_size: int) -> str:
        return f"DELETE TOP ({int(batch_size)}) FROM {ref} WHERE {self.quote('ExpiresAtTime')} < ?"


DIALECTS: dict[str, Dialect] = {d.name: d for d in (PostgreSQL(), MariaDB(), SQLite(), SqlServer())}
