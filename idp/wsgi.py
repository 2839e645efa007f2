"""WSGI entry for gunicorn: ``gunicorn 'idp.wsgi:app'`` (settings from ``IDP_*`` variables)."""
from idp.app import create_app

app = create_app()
