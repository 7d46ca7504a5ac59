#!/bin/sh
# Stand-in for the Agent's /probe.sh (`agent health`): healthy while the trace intake answers.
exec wget -q -O /dev/null http://127.0.0.1:8126/test/traces
