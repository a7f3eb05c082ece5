"""Two "web servers" write and read through each backend: only a shared cache lets one see the other's data.

    .venv/bin/python examples/shared_cache.py

Starts its own redis-server and uses a SQLite file, so it needs nothing running beforehand.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import redis

from farm.cache import DistributedCache, EntryOptions, MemoryCache, SqlCache, from_url
from farm.testing.servers import start_redis

OPTIONS = EntryOptions(sliding_expiration=timedelta(seconds=20))


def two_servers(name: str, server_a: DistributedCache, server_b: DistributedCache) -> None:
    server_a.set_string("catalog:item:42", '{"id": 42, "price": 9.5, "version": 3}', OPTIONS)
    seen = server_b.get_string("catalog:item:42")
    verdict = "HIT  (shared: coherent across servers)" if seen else "MISS (per-process: server B cannot see it)"
    print(f"  {name:<7} server A set catalog:item:42 -> server B get: {verdict}")


def main() -> None:
    print("Server A writes an item; server B (its own cache client, as a second server has) reads it.")
    with start_redis() as server, tempfile.TemporaryDirectory() as tmp:
        two_servers("memory", MemoryCache(), MemoryCache())

        url = server.url + "?instance_name=SampleInstance"
        with from_url(url) as a, from_url(url) as b:
            two_servers("redis", a, b)

        sqlite = f"sqlite:///{Path(tmp) / 'cache.db'}"
        with SqlCache(sqlite, table="TestCache") as a, SqlCache(sqlite, table="TestCache") as b:
            a.create_table()
            two_servers("sqlite", a, b)

        print("\nWhat an ASP.NET Core server sharing this Redis would read (the .NET hash layout):")
        with redis.Redis(host=server.host, port=server.port) as raw:
            key = "SampleInstancecatalog:item:42"
            for field, value in raw.hgetall(key).items():
                print(f"  {field.decode():<7} {value.decode()}")
            print(f"  TTL     {raw.pttl(key)} ms (the 20 s sliding window)")


if __name__ == "__main__":
    main()
