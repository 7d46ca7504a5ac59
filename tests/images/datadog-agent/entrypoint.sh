#!/bin/sh
# Stand-in for the Agent's /bin/entrypoint.sh: no Agent, only the APM intake on 8126 (the trace
# agent's port), served by Datadog's test agent. It reads DD_API_KEY like the Agent does: the
# container refuses to start without one, as the real Agent exits when it has no API key. The key
# and site are not handed on: with both, the test agent would call Datadog to validate the key, and
# nothing here sends anything to Datadog.
if [ -z "$DD_API_KEY" ]; then
	echo "Error: DD_API_KEY is not set: the Agent exits without an API key" >&2
	exit 1
fi
# Like the trace agent, it listens on every interface only with DD_APM_NON_LOCAL_TRAFFIC=true
# (Datadog docs, Docker APM: otherwise other containers cannot send traces), else on loopback.
host=127.0.0.1
if [ "$DD_APM_NON_LOCAL_TRAFFIC" = "true" ]; then
	host=0.0.0.0
fi
exec env -u DD_API_KEY -u DD_SITE /opt/datadog-agent/embedded/bin/ddapm-test-agent --host "$host" --port 8126
