#!/bin/sh
# The SQL cache's PostgreSQL: a cluster made on first start, reachable from the compose network only (nothing
# is published), with the cache table created before the server takes connections from the nodes.
set -eu
PGDATA=/var/lib/postgresql/cachefarm
BIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
TABLE=${FARM_SQL_TABLE:-DistributedCache}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    "$BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 >/dev/null
    echo "host all all 0.0.0.0/0 trust" >> "$PGDATA/pg_hba.conf"
    # On another port: the healthcheck (port 5432) must not pass on this short-lived setup server.
    "$BIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=127.0.0.1 -c port=5433" -w start >/dev/null
    python3 -c "from farm.cache import from_url; from_url('postgresql://postgres@127.0.0.1:5433/postgres?table=$TABLE').create_table(if_not_exists=True)"
    "$BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    echo "postgres-start: cluster and table $TABLE created"
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c fsync=off -c unix_socket_directories=/tmp
