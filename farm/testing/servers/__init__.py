"""Private server processes (Redis, PostgreSQL, MariaDB) on free ports in temporary folders, owned by whoever
starts them: tests, benchmarks and examples never depend on, or disturb, servers the machine already runs."""

from farm.testing.servers.mariadb import start_mariadb
from farm.testing.servers.postgres import start_postgres
from farm.testing.servers.process import ServerError, ServerProcess
from farm.testing.servers.redis import start_redis

__all__ = ["ServerError", "ServerProcess", "start_mariadb", "start_postgres", "start_redis"]
