"""Private server processes (Redis, PostgreSQL, MariaDB) on free ports, owned by whoever starts them.

The farm starts its own redis-server; tests and benchmarks start their own databases, so that nothing
depends on, or disturbs, servers that already run on the machine.
"""

from farm.servers.mariadb import start_mariadb
from farm.servers.postgres import start_postgres
from farm.servers.process import ServerError, ServerProcess, free_port
from farm.servers.redis import start_redis

__all__ = ["ServerError", "ServerProcess", "free_port", "start_mariadb", "start_postgres", "start_redis"]
