"""Shared fixtures: a fresh database per test, a controllable clock, factories, a real HTTP server.

The suite runs on SQLite by default; set ``IDP_TEST_DATABASE_URL`` (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) to run it on PostgreSQL instead.
"""
from __future__ import annotations

import os
import re
import threading
from datetime import datetime

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from idp.app import create_app
from idp.schema import create_schema
from idp.clock import FrozenClock
from idp.delivery import read_mailbox
from idp.extensions import db
from idp.settings import Settings

pytest_plugins = ["tests.aws"]


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist (``scripts/test`` runs two workers) every worker has a PostgreSQL database of its
    own, ``<database>_<worker>`` on the same server (created when missing), since each test empties its
    database; without xdist, the database named."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url.startswith("postgresql") or not worker:
        return url
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    with psycopg.connect(host=base.host or "127.0.0.1", port=base.port or 5432, user=base.username or "postgres",
                         password=base.password, dbname=base.database, autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            try:
                connection.execute(f'CREATE DATABASE "{name}"')
            except psycopg.errors.DuplicateDatabase:  # another run made it a moment ago
                pass
    return base.set(database=name).render_as_string(hide_password=False)


TEST_DATABASE_URL = _database_of_this_worker(os.environ.get("IDP_TEST_DATABASE_URL", ""))
#: A moment to freeze test clocks at.
T0 = datetime(2026, 11, 25, 9, 0, 0)


@pytest.fixture(scope="session", autouse=True)
def _one_suite_per_test_database():
    """Every test empties the shared PostgreSQL test database: two test runs on one database at once (two
    developers, or a developer and CI) would empty each other's. A session-level advisory lock makes a
    second run wait for the first instead."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(TEST_DATABASE_URL)
    with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                         password=url.password, dbname=url.database, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(hashtext('idp test suite ' || current_database()))")
        yield  # released when the connection closes, however the run ends


@pytest.fixture
def clock():
    return FrozenClock(T0)


@pytest.fixture
def http_server():
    """A loopback port bound before the app exists, so the issuer can name it; started by ``live_server``."""
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path, http_server):
    """Settings for one test: its own instance folder and database, cheap bcrypt, issuer on its own port."""
    return Settings.from_env(
        environ={},
        secret_key="test-secret-key-" + "x" * 32,
        instance_dir=str(tmp_path / "instance"),
        database_url=TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'idp.sqlite3'}",
        keys_dir=str(tmp_path / "keys"),
        bcrypt_rounds=4,
        issuer=http_server.url,
    )


def empty_database() -> None:
    """Drop everything in the shared test database, whatever earlier runs left there."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        db.metadata.drop_all(db.engine)


@pytest.fixture
def make_app(settings, clock):
    """Build an app with a fresh schema; keyword arguments override settings."""
    made = []

    def _make(courier=None, **overrides):
        app = create_app(settings.replace(**overrides) if overrides else settings, clock=clock, courier=courier)
        app.config["TESTING"] = True
        with app.app_context():
            if TEST_DATABASE_URL and not made:
                empty_database()
            create_schema()
        made.append(app)
        return app

    yield _make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["idp"]


@pytest.fixture
def make_account(app):
    """``make_account(email=…, phone=…, password=…)``: an account, committed; a permanent password if given."""
    from idp.accounts import create_account

    counter = iter(range(1, 10**6))

    def _make(email: str | None = "", phone: str | None = None, password: str | None = None, **fields):
        services = app.extensions["idp"]
        with app.app_context():
            if email == "":
                email = f"customer{next(counter)}@example.com"
            account = create_account(email=email, phone=phone, now=services.clock.now(), **fields)
            if password is not None:
                account.password_hash = services.hasher.hash(password)
            db.session.commit()
            db.session.refresh(account)
            db.session.expunge(account)
            return account

    return _make


class Mailbox:
    """The development mailbox of one test's app."""

    def __init__(self, path):
        self.path = path

    def messages(self, to: str | None = None) -> list[dict]:
        return [m for m in read_mailbox(self.path) if to is None or m["to"] == to]

    def last(self, to: str | None = None) -> dict:
        found = self.messages(to)
        assert found, f"no message to {to!r} in the mailbox"
        return found[-1]

    def temporary_password(self, to: str | None = None) -> str:
        """The temporary password in the newest message to ``to`` (the seed's «Временный пароль - …»)."""
        match = re.search(r"(?:пароль[^-\n]*- )([A-Za-z0-9]{8})\b", self.last(to)["text"])
        assert match, "no temporary password in the message"
        return match.group(1)


@pytest.fixture
def mailbox(settings):
    return Mailbox(settings.mailbox_path)


class LiveServer:
    """A threaded werkzeug server on a free loopback port, serving whatever app is set on it."""

    def __init__(self):
        self.app = None
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread: threading.Thread | None = None

    def _dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def start(self, app):
        self.app = app
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


@pytest.fixture
def live_server(app, http_server):
    """The app served over real HTTP on its issuer's loopback port."""
    return http_server.start(app)


@pytest.fixture
def run_cli(app):
    """``run_cli("accounts", "show", LOGIN, "--json")``: the ``idp`` command against this test's app."""
    from idp.cli import cli

    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(cli, args=list(args))

    return _run
