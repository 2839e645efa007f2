"""``python -m clients.dms_api``: the ДМС API on a loopback port (development server)."""
from __future__ import annotations

import logging
import os

from clients.dms_api import ApiConfig, create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    config = ApiConfig(issuer=os.environ.get("DMS_API_ISSUER", "http://127.0.0.1:5000"),
                       audience=os.environ.get("DMS_API_AUDIENCE", "http://127.0.0.1:5002/"))
    create_app(config).run(host="127.0.0.1", port=int(os.environ.get("DMS_API_PORT", "5002")))


if __name__ == "__main__":
    main()
