#!/bin/sh
# Stand-in for the Agent's /bin/entrypoint.sh: no Agent, only the APM intake on 8126 (the trace
# agent's port), served by Datadog's test agent. It reads DD_API_KEY like the Agent does: the
# container refuses to start without one, as the real Agent exits when it has no API key.
if [ -z "$DD_API_KEY" ]; then
	echo "Error: DD_API_KEY is not set: the Agent exits without an API key" >&2
	exit 1
fi
exec /opt/datadog-agent/embedded/bin/ddapm-test-agent --port 8126
