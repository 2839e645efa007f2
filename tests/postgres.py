"""A PostgreSQL server for the tests that always need one, whatever database the suite runs on
(``tests/multi_instance``, ``tests/oidc/test_store_connections.py``): ``IDP_TEST_POSTGRES_URL``, else the server of
``IDP_TEST_DATABASE_URL`` when that is PostgreSQL, else ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``.
Without a reachable server those tests are skipped, except under ``CI=true``, where they fail."""
from __future__ import annotations

import os
import secrets
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url


def server_url() -> str:
    explicit = os.environ.get("IDP_TEST_POSTGRES_URL")
    if explicit:
        return explicit
    test_url = os.environ.get("IDP_TEST_DATABASE_URL", "")
    if test_url.startswith("postgresql"):
        return make_url(test_url).set(database="postgres").render_as_string(hide_password=False)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def connect(url: str):
    """A psycopg connection in autocommit mode to the database of a SQLAlchemy URL."""
    import psycopg

    url = make_url(url)
    return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                           user=url.username or "postgres", password=url.password,
                           dbname=url.database or "postgres", autocommit=True, connect_timeout=3)


def admin_connection(server: str):
    """A connection to ``server``, or the test skipped (failed under ``CI=true``) if it is not reachable."""
    try:
        return connect(server)
    except Exception as exc:  # psycopg.OperationalError and friends: no server to test against
        message = f"PostgreSQL at {make_url(server).render_as_string()} is not reachable ({exc}); " \
                  f"set IDP_TEST_POSTGRES_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def scratch_database(prefix: str):
    """A new, empty database on the test server (the test skipped without one, failed under ``CI=true``),
    yielded as a psycopg SQLAlchemy URL and dropped afterwards."""
    server = server_url()
    admin = admin_connection(server)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name, drivername="postgresql+psycopg").render_as_string(
            hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
