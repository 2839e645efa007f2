"""The PostgreSQL connections kept beside the pool for the statements apart (idp.oidc.autocommit).

Always on PostgreSQL: the database of IDP_TEST_DATABASE_URL when that is PostgreSQL, else a scratch
database made for this module on the server of :func:`tests.postgres.server_url` and dropped afterwards
(without a reachable server: skipped, or failed under ``CI=true``). That the rows read this way are
SQLAlchemy's own is tests/oidc/test_records.py's (on PostgreSQL).
"""
from __future__ import annotations

import os
import secrets
import threading

import pytest
from sqlalchemy import Integer, String, bindparam, cast, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from idp.extensions import db
from idp.oidc import autocommit, records, sql
from idp.oidc.models import OAuthToken
from tests.conftest import TEST_DATABASE_URL, create_schema, empty_database
from tests.oidc.test_records import _setup, _token_values
from tests.postgres import admin_connection, connect, server_url


@pytest.fixture(scope="module")
def postgres_url():
    if TEST_DATABASE_URL.startswith("postgresql"):
        yield TEST_DATABASE_URL
        return
    server = server_url()
    admin = admin_connection(server)
    name = f"idp_autocommit_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name, drivername="postgresql+psycopg").render_as_string(
            hide_password=False)
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def app(make_app, postgres_url):
    made = make_app(database_url=postgres_url)
    if not TEST_DATABASE_URL.startswith("postgresql"):  # the scratch database: emptied for every test
        with made.app_context():
            empty_database()
            create_schema()
            db.session.remove()
    return made


@pytest.fixture
def admin(postgres_url):
    """A connection of the test's own, to look at and end the provider's sessions."""
    with connect(postgres_url) as connection:
        yield connection


def _spares() -> list:
    return autocommit._spares[db.engine].connections


def _lookup(client_id: str):
    with sql.read_only():
        return records.find_client(client_id)


def _backend(connection) -> int:
    return connection.driver_connection.info.backend_pid


def test_lookups_take_a_spare_autocommit_connection_and_leave_the_pool_alone(app, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        assert _lookup(client_id).client_id == client_id
        [spare] = _spares()
        backend = _backend(spare)
        assert spare.driver_connection.autocommit is True
        assert _lookup(client_id).client_id == client_id
        assert _spares() == [spare] and _backend(spare) == backend  # the same connection, given back again
        pooled = db.engine.raw_connection()
        try:
            assert pooled.driver_connection.autocommit is False
            assert pooled.driver_connection.info.backend_pid != backend
        finally:
            pooled.close()
        two_requests_at_once(app, client_id, spare)


def two_requests_at_once(app, client_id: str, spare) -> None:
    """Requests at once each take their own connection (the one ``spare``, and a new one); all become spares."""
    inside, release = threading.Barrier(3), threading.Event()

    def hold():
        with app.app_context(), sql.read_only():
            records.find_client(client_id)
            inside.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    assert _spares() == []  # the two requests hold one each: the spare, and a new one
    release.set()
    for thread in threads:
        thread.join(5)
    assert len(_spares()) == 2 and spare in _spares()


def test_a_lookup_the_server_refuses_raises_as_through_a_cursor(app, make_account):
    """A failed lookup runs once more through psycopg's cursor, which raises; the connection stays usable."""
    _, _, client_id, _ = _setup(app, make_account)
    number = sql.Statement(select(cast(bindparam("text", type_=String), Integer).label("n")))
    with app.app_context():
        with sql.read_only():
            assert number.first({"text": "6"}) == (6,)
        [spare] = _spares()
        with pytest.raises(sa_exc.DataError) as raised, sql.read_only():
            number.first({"text": "six-secret"})
        assert "invalid input syntax for type integer" in str(raised.value)
        assert "hidden due to hide_parameters" in str(raised.value)  # never the values, as through SQLAlchemy
        assert _spares() == [spare]
        with sql.read_only():
            assert number.first({"text": "8"}) == (8,)
            assert records.find_client(client_id).client_id == client_id


def test_a_connection_lost_between_requests_is_dropped_and_replaced(app, make_account, admin):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        _lookup(client_id)
        [lost] = _spares()
        admin.execute("SELECT pg_terminate_backend(%s)", (_backend(lost),))
        # Used a moment ago, so not tested first: the lookup fails, as through the pool, and says why.
        with pytest.raises(sa_exc.OperationalError) as raised:
            _lookup(client_id)
        assert raised.value.connection_invalidated
        assert lost.driver_connection is None and _spares() == []
        assert _lookup(client_id).client_id == client_id  # the next request connects afresh
        [fresh] = _spares()
        # Idle for longer than PING_AFTER_IDLE: tested as it is taken, and replaced before use.
        admin.execute("SELECT pg_terminate_backend(%s)", (_backend(fresh),))
        fresh.last_used -= fresh.ping_after + 1
        assert _lookup(client_id).client_id == client_id
        [replacement] = _spares()
        assert replacement is not fresh and fresh.driver_connection is None


def test_userinfo_answers_after_its_connection_was_lost(app, make_account, admin):
    """The fast path's failure hands the request to Flask's route, whose lookup connects afresh."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now))
        db.session.commit()
    client = app.test_client()
    first = client.get("/oauth/userinfo", headers={"Authorization": "Bearer a"})
    assert first.status_code == 200, first.data
    with app.app_context():
        [spare] = _spares()
        admin.execute("SELECT pg_terminate_backend(%s)", (_backend(spare),))
    again = client.get("/oauth/userinfo", headers={"Authorization": "Bearer a"})
    assert again.status_code == 200 and again.json == first.json
    with app.app_context():
        assert spare not in _spares() and len(_spares()) == 1


def test_dispose_closes_the_spares_and_retires_those_in_use(app, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        dispose_retires_spares(client_id, closed=lambda driver: driver.closed)


def dispose_retires_spares(client_id: str, *, closed) -> None:
    """``engine.dispose()`` closes the spare connections, and one in use when it comes back; ``closed``:
    whether a DBAPI connection is closed."""
    _lookup(client_id)
    [spare] = _spares()
    driver = spare.driver_connection
    with sql.read_only():
        records.find_client(client_id)
        assert sql._reader.get().connection is spare and _spares() == []
        db.engine.dispose()
    assert closed(driver) and _spares() == []  # given back after the dispose: closed, not kept
    _lookup(client_id)
    [fresh] = _spares()
    assert fresh is not spare
    fresh_driver = fresh.driver_connection
    db.engine.dispose()
    assert fresh.driver_connection is None and closed(fresh_driver) and _spares() == []


def test_a_transaction_left_open_is_never_given_back(app, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        connection = autocommit.take(db.engine)
        driver = connection.driver_connection
        driver.execute("BEGIN")
        autocommit.give_back(connection)
        assert driver.closed and _spares() == []


def test_a_connection_from_another_process_is_neither_used_nor_closed(app, make_account):
    """After a fork the child must not touch the parent's connection: not use it, and not close it (which
    would end the parent's session)."""
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        forked_connection_left_alone(client_id, closed=lambda driver: driver.closed)


def forked_connection_left_alone(client_id: str, *, closed) -> None:
    """A spare made by another process (the pid it carries) is neither used nor closed here."""
    _lookup(client_id)
    [inherited] = _spares()
    inherited.pid = -1  # as if made by the parent of this process
    _lookup(client_id)
    [own] = _spares()
    assert own is not inherited
    assert inherited.driver_connection is not None and not closed(inherited.driver_connection)
    assert inherited in autocommit._forked
    autocommit._forked.remove(inherited)
    inherited.pid = os.getpid()
    inherited.invalidate()


def test_placeholders_are_numbered_in_the_order_of_first_use():
    numbered = autocommit._numbered("SELECT %(b)s, %(a)s, %(b)s FROM t WHERE name LIKE 'x%%' AND id = %(id)s")
    assert numbered == (b"SELECT $1, $2, $1 FROM t WHERE name LIKE 'x%' AND id = $3", ("b", "a", "id"))
