"""A stand-in for Grafana 12 in the grafana/grafana image, for a machine that cannot run Grafana.

It does what the lab relies on, the way Grafana does it (grafana/grafana, pkg/services/provisioning):
- datasources: every *.yaml/*.yml under $GF_PATHS_PROVISIONING/datasources, `apiVersion: 1`,
  a `datasources` list; more than one `isDefault` in an org, or a datasource without a name or
  type, is a provisioning error and Grafana exits at start (datasources/config_reader.go,
  validateDefaultUniqueness; "Datasource provisioning error");
- dashboards: every provider of type `file` under $GF_PATHS_PROVISIONING/dashboards with an
  `options.path`; each *.json below that path is a dashboard; one that does not parse is logged and
  skipped, as Grafana's file reader does (dashboards/file_reader.go);
- the page a browser opens, `/` (pkg/api/api.go `r.Get("/", reqSignedIn, hs.Index)`): the app's
  HTML, 200, to a signed-in user, which an anonymous viewer is when GF_AUTH_ANONYMOUS_ENABLED;
  otherwise ReqSignedIn redirects a page request to /login (302; pkg/middleware/auth.go
  `notAuthorized`), whose page any visitor gets;
- the HTTP API on $GF_SERVER_HTTP_PORT (3000): /api/health (no login), /api/datasources (admin,
  basic auth with GF_SECURITY_ADMIN_USER / GF_SECURITY_ADMIN_PASSWORD), /api/search,
  /api/dashboards/uid/<uid> and /api/dashboards/home (anonymous viewers when
  GF_AUTH_ANONYMOUS_ENABLED), and the datasource proxy /api/datasources/proxy/uid/<uid>/<path>,
  which forwards a GET to the datasource's url from inside the container's network, as Grafana's
  data proxy does.
It renders nothing and runs no query of its own: README says what that leaves unproven.
"""
import base64
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

PROVISIONING = Path(os.environ.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"))
VERSION = os.environ.get("GF_STAND_IN_VERSION", "12")
# Grafana's index page is its single-page app's shell; the stand-in's says what it is.
PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Grafana</title></head>"
        b"<body><div id=\"reactRoot\">Grafana stand-in: provisioning and HTTP API only, no UI</div></body></html>")


class ProvisioningError(Exception):
    pass


def yaml_files(folder: Path) -> list:
    return sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_datasources() -> list:
    found = []
    for path in yaml_files(PROVISIONING / "datasources"):
        document = yaml.safe_load(os.path.expandvars(path.read_text())) or {}
        for datasource in document.get("datasources") or []:
            if not datasource.get("name") or not datasource.get("type"):
                raise ProvisioningError(f"{path}: a datasource needs a name and a type: {datasource}")
            found.append(datasource)
    defaults = [d["name"] for d in found if d.get("isDefault")]
    if len(defaults) > 1:
        raise ProvisioningError("datasource.yaml config is invalid. Only one datasource per organization "
                                f"can be marked as default ({defaults})")
    return found


def load_dashboards() -> list:
    dashboards = []
    for path in yaml_files(PROVISIONING / "dashboards"):
        document = yaml.safe_load(os.path.expandvars(path.read_text())) or {}
        for provider in document.get("providers") or []:
            folder = (provider.get("options") or {}).get("path")
            if provider.get("type", "file") != "file" or not folder:
                raise ProvisioningError(f"{path}: provider {provider.get('name')!r} needs type file and options.path")
            for board in sorted(Path(folder).rglob("*.json")):
                try:
                    dashboards.append(json.loads(board.read_text()))
                except (OSError, ValueError) as error:
                    print(f"logger=provisioning.dashboard level=error msg=\"failed to load dashboard from\" "
                          f"file={board} error=\"{error}\"", flush=True)
    return dashboards


class Api(BaseHTTPRequestHandler):
    datasources: list = []
    dashboards: list = []

    def log_message(self, fmt, *args):
        print(f"logger=context method={self.command} path={self.path} " + fmt % args, flush=True)

    def _send(self, status: int, body, content_type: str = "application/json", headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _is_admin(self) -> bool:
        expected = "{}:{}".format(os.environ.get("GF_SECURITY_ADMIN_USER", "admin"),
                                  os.environ.get("GF_SECURITY_ADMIN_PASSWORD", "admin"))
        header = self.headers.get("Authorization", "")
        return header == "Basic " + base64.b64encode(expected.encode()).decode()

    def _may_view(self) -> bool:
        return self._is_admin() or os.environ.get("GF_AUTH_ANONYMOUS_ENABLED", "false").lower() == "true"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/api/health":
            return self._send(200, {"database": "ok", "version": VERSION})
        if path == "/login":
            return self._send(200, PAGE, "text/html; charset=UTF-8")
        if path == "/":
            if not self._may_view():
                return self._send(302, b"", "text/html; charset=UTF-8", {"Location": "/login"})
            return self._send(200, PAGE, "text/html; charset=UTF-8")
        if path == "/api/datasources":
            if not self._is_admin():
                return self._send(401, {"message": "Unauthorized"})
            return self._send(200, self.datasources)
        if not self._may_view():
            return self._send(401, {"message": "Unauthorized"})
        if path == "/api/search":
            return self._send(200, [{"uid": d.get("uid"), "title": d.get("title"), "type": "dash-db"}
                                    for d in self.dashboards])
        if path == "/api/dashboards/home":
            home = os.environ.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
            if home and Path(home).is_file():
                return self._send(200, {"dashboard": json.loads(Path(home).read_text()), "meta": {}})
            return self._send(404, {"message": "home dashboard not found"})
        if path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            for board in self.dashboards:
                if board.get("uid") == uid:
                    return self._send(200, {"dashboard": board, "meta": {"provisioned": True}})
            return self._send(404, {"message": "Dashboard not found"})
        if path.startswith("/api/datasources/proxy/uid/"):
            uid, _, rest = path[len("/api/datasources/proxy/uid/"):].partition("/")
            source = next((d for d in self.datasources if d.get("uid") == uid), None)
            if source is None:
                return self._send(404, {"message": "Data source not found"})
            query = "?" + self.path.split("?", 1)[1] if "?" in self.path else ""
            try:
                with urllib.request.urlopen(f"{source['url'].rstrip('/')}/{rest}{query}", timeout=10) as reply:
                    return self._send(reply.status, reply.read())
            except urllib.error.HTTPError as error:
                return self._send(error.code, error.read())
            except OSError as error:
                return self._send(502, {"message": f"Bad Gateway: {error}"})
        return self._send(404, {"message": "Not found"})


def main() -> int:
    try:
        Api.datasources = load_datasources()
        Api.dashboards = load_dashboards()
    except (ProvisioningError, yaml.YAMLError, OSError) as error:
        print(f"Error: ✗ Datasource provisioning error: {error}", file=sys.stderr, flush=True)
        return 1
    port = int(os.environ.get("GF_SERVER_HTTP_PORT", "3000"))
    print(f"logger=http.server level=info msg=\"HTTP Server Listen\" address=[::]:{port} "
          f"datasources={len(Api.datasources)} dashboards={len(Api.dashboards)}", flush=True)
    server = ThreadingHTTPServer(("0.0.0.0", port), Api)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
