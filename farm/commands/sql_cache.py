"""``farm sql-cache create|drop``: the counterpart of ``dotnet sql-cache create``, for every dialect."""

from __future__ import annotations

import argparse
import sys

from farm.cache.errors import CacheConfigError, CacheError
from farm.cache.secrets import mask_secrets
from farm.cache.sql import SqlCache, parse_sql_target

EXIT_OK, EXIT_DATABASE_ERROR, EXIT_BAD_INPUT = 0, 1, 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sql-cache",
        help="create or drop the SQL cache table",
        description="Create or drop the cache table and its index (the layout of the .NET SQL Server cache).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="{create,drop}")
    for action, help_text, guard, guard_help in (
        ("create", "create the table and its index", "--if-not-exists", "do nothing if the table exists"),
        ("drop", "drop the table", "--if-exists", "do nothing if the table does not exist"),
    ):
        sub = actions.add_parser(action, help=help_text, description=help_text.capitalize() + ".")
        sub.add_argument("connection", metavar="CONNECTION", help="a SQL cache URL or an ODBC connection string")
        sub.add_argument("schema", metavar="SCHEMA", help="schema (the database on MariaDB/MySQL, main on SQLite)")
        sub.add_argument("table", metavar="TABLE", help="table name")
        sub.add_argument("--dry-run", action="store_true", help="print the SQL instead of running it")
        sub.add_argument(guard, dest="guard", action="store_true", help=guard_help)
        sub.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        target = parse_sql_target(args.connection, schema=args.schema, table=args.table)
        creating = args.action == "create"
        dialect = target.dialect
        statements = (
            dialect.create_table(target.schema, target.table, if_not_exists=args.guard)
            if creating
            else dialect.drop_table(target.schema, target.table, if_exists=args.guard)
        )
    except CacheConfigError as exc:
        print(f"farm sql-cache {args.action}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dry_run:
        for statement in statements:
            print(statement + ("" if statement.rstrip().endswith(";") else ";"))
        return EXIT_OK
    try:
        with SqlCache(target) as cache:
            if creating:
                cache.create_table(if_not_exists=args.guard)
            else:
                cache.drop_table(if_exists=args.guard)
    except CacheError as exc:
        message = mask_secrets(str(exc))
        if creating and not args.guard and ("already" in message.lower()):
            message += "\n(add --if-not-exists to leave an existing table alone)"
        print(f"farm sql-cache {args.action}: error: {message}", file=sys.stderr)
        return EXIT_DATABASE_ERROR
    where = f"{target.schema}.{target.table}" if target.schema else target.table
    done = "Table and index were created" if creating else "Table was dropped"
    print(f"{done}: {where} ({dialect.name}, {target.masked})")
    return EXIT_OK
