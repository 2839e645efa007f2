"""``python -m clients.dms_portal``: serve the portal on the host and port of ``DMS_BASE_URL``."""
from __future__ import annotations

import argparse
import logging
import sys
from urllib.parse import urlsplit

from werkzeug.serving import run_simple

from clients.dms_portal import ConfigError, create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.dms_portal",
        description="The demo ДМС portal. Settings come from DMS_* variables: DMS_ISSUER, DMS_CLIENT_ID, "
                    "DMS_CLIENT_SECRET, DMS_BASE_URL, DMS_SECRET_KEY, DMS_SCOPE "
                    "(see clients/dms_portal/README.md).")
    parser.add_argument("--host", help="address to listen on (default: the host of DMS_BASE_URL)")
    parser.add_argument("--port", type=int, help="port to listen on (default: the port of DMS_BASE_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except ConfigError as exc:
        print(f"dms_portal: {exc}", file=sys.stderr)
        return 2
    config = app.extensions["dms_portal"].config
    base = urlsplit(config.base_url)
    host = args.host or base.hostname
    port = args.port or base.port or (443 if base.scheme == "https" else 80)
    print(f"ДМС-портал: {base.geturl()}  (провайдер: {config.issuer})", flush=True)
    run_simple(host, port, app, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
