"""The local AWS emulator: moto's server with the project's fidelity layer applied.

Run as ``python emulator/server.py --port 4566``. Besides moto's own API it answers two
emulator-only paths, used by the start script and by tests:

- ``GET /_asset_manager/health``: the moto version and the fidelity patches applied;
- ``GET /_asset_manager/oidc-secret-digests``: SHA-256 digests of the OIDC client secrets the
  emulator holds, by rule ARN (AWS never describes a secret; tests use this to prove a rotated
  secret was applied without reading it back through the AWS API).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fidelity  # noqa: E402  (the path above makes the sibling module importable)

PREFIX = "/_asset_manager/"


def emulator_app(moto_app, applied):
    """Wrap moto's WSGI application with the emulator-only paths."""

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return moto_app(environ, start_response)
        if path == PREFIX + "health":
            body = {"moto": fidelity.moto.__version__, "patches": applied}
        elif path == PREFIX + "oidc-secret-digests":
            body = fidelity.OIDC_SECRET_DIGESTS
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown emulator path"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)

    try:
        applied = fidelity.apply_all()
    except fidelity.FidelityError as error:
        sys.exit(f"emulator: {error}")

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    os.environ.setdefault("MOTO_PORT", str(args.port))
    moto_app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, emulator_app(moto_app, applied), threaded=True)


if __name__ == "__main__":
    main()
