"""WSGI entry for gunicorn: ``gunicorn 'idp.wsgi:app'`` (settings from ``IDP_*`` variables)."""
import sys

from idp.app import create_app
from idp.settings import SettingsError

try:
    app = create_app()
except SettingsError as exc:  # one clear line in the server's log instead of a traceback per worker
    print(f"idp: configuration error: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(2) from None
