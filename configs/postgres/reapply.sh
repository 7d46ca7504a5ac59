#!/usr/bin/env bash
# Re-apply the lab's init scripts to an EXISTING data directory (see entrypoint.sh for why).
# Arguments: the container command (`postgres -c key=value ...`). Runs as the postgres OS user.
#
# Like the official entrypoint's own init phase: a temporary server on the Unix socket only
# (listen_addresses=''), so no client and no healthcheck sees the database before the scripts are
# done; then every *.sql of the init directory in name order, as the superuser, ON_ERROR_STOP.
# A failing script (e.g. a password variable missing from the env) stops the container start with
# the script's error, and the temporary server is stopped on the way out.
set -Eeuo pipefail

: "${PGDATA:?PGDATA is not set}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	exit 0  # empty directory: the official entrypoint initializes it and runs the scripts itself
fi
if [ "${1:-}" = 'postgres' ]; then
	shift
fi
# CREDIT_LAB_INITDB_DIR lets the integration tests run this very script against a native server.
initdb_dir="${CREDIT_LAB_INITDB_DIR:-/docker-entrypoint-initdb.d}"

echo "$0: existing database in $PGDATA: re-applying $initdb_dir/*.sql"
pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@" -c listen_addresses='' -p "${PGPORT:-5432}")" -w start
trap 'pg_ctl -D "$PGDATA" -m fast -w stop' EXIT

for script in "$initdb_dir"/*.sql; do
	echo "$0: running $script"
	psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --no-password --no-psqlrc \
		--dbname postgres -f "$script"
done
