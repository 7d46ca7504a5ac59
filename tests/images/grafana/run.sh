#!/bin/sh
# The image's entrypoint (upstream packaging/docker/run.sh starts grafana server with the GF_PATHS_*):
# here the stand-in server, which reads the same variables.
exec python3 /usr/share/grafana/bin/grafana_stand_in.py "$@"
