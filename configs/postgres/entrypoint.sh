#!/usr/bin/env bash
# The PostgreSQL container's ENTRYPOINT: a thin wrapper around the official docker-entrypoint.sh.
#
# Why: the official entrypoint runs /docker-entrypoint-initdb.d only on an EMPTY data directory.
# The lab keeps its data on a named volume, so after `pulumi config set postgresPassword ...` the
# replaced container would start with the new password in its env and the old one in the database.
# Before handing over, credit-lab-reapply.sh re-runs the idempotent init scripts over the Unix
# socket when the data directory already holds a database (roles/passwords converge; a missing
# role, grant, extension or explain function comes back). On an empty directory it does nothing and
# the official entrypoint initializes as usual.
set -Eeo pipefail

# Same convention as the official entrypoint: leading flags mean "postgres <flags>".
if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi
if [ "$1" = 'postgres' ]; then
	if [ "$(id -u)" = '0' ]; then
		# The server refuses root: step down the way the image's own entrypoint does
		# (gosu in current postgres:15-alpine builds, su-exec in older ones; both are there).
		step_down=su-exec
		if command -v gosu > /dev/null; then step_down=gosu; fi
		"$step_down" postgres /usr/local/bin/credit-lab-reapply.sh "$@"
	else
		/usr/local/bin/credit-lab-reapply.sh "$@"
	fi
fi
exec docker-entrypoint.sh "$@"
