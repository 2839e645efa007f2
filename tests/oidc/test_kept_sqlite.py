"""A SQLite file's connections kept beside the pool for the statements apart (idp.oidc.autocommit).

Always on a SQLite file of the test's own, whatever IDP_TEST_DATABASE_URL names (PostgreSQL's are
tests/oidc/test_autocommit.py's). That the rows read and written this way are SQLAlchemy's own is
tests/oidc/test_records.py's.
"""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from idp.extensions import db
from idp.oidc import autocommit, records, sql, tokens
from tests.oidc.test_autocommit import (_lookup, _spares, dispose_retires_spares, forked_connection_left_alone,
                                        two_requests_at_once)
from tests.oidc.test_records import _setup, _token_values


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(database_url=f"sqlite:///{tmp_path / 'kept.sqlite3'}")


def _closed(driver: sqlite3.Connection) -> bool:
    try:
        driver.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def test_lookups_take_a_spare_connection_and_leave_the_pool_alone(app, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        pool = db.engine.pool
        assert _lookup(client_id).client_id == client_id
        [spare] = _spares()
        assert isinstance(spare, autocommit.SqliteConnection)
        driver = spare.driver_connection
        checked_out = pool.checkedout()
        assert _lookup(client_id).client_id == client_id
        assert _spares() == [spare] and spare.driver_connection is driver  # the same connection, given back
        assert pool.checkedout() == checked_out  # the pool was not asked
        assert not driver.in_transaction  # no read snapshot held between requests
        two_requests_at_once(app, client_id, spare)


def test_a_spare_sees_what_others_committed_since(app, make_account):
    """A kept connection holds no read snapshot between requests: a token written through the session
    after the spare's last lookup is found by the next lookup on the same spare."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        _lookup(client_id)
        [spare] = _spares()
        with sql.read_only():
            assert tokens.find_token("a", tokens.ACCESS, now=now) is None
        tokens.add_token(**_token_values(client_pk, account_id, now))
        db.session.commit()
        with sql.read_only():
            assert tokens.find_token("a", tokens.ACCESS, now=now) is not None
            assert sql._reader.get().connection is spare


def test_the_token_endpoint_writes_on_a_spare_and_leaves_nothing_open(app, make_account):
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        with tokens.deferred_writes(), sql.reads_apart():
            assert records.find_client(client_id) is not None
            tokens.add_token(**_token_values(client_pk, account_id, now))
            with sql.writing():
                tokens.run_deferred()
            spare = sql._reader.get().connection
            assert not sql.session_began()  # written apart, not through the session
        assert _spares() == [spare] and not spare.driver_connection.in_transaction
        # Committed: another connection sees the row.
        with db.engine.connect() as other:
            assert other.execute(text("SELECT count(*) FROM oauth_tokens")).scalar() == 1


def test_a_transaction_left_open_is_never_given_back(app, make_account):
    _setup(app, make_account)
    with app.app_context():
        connection = autocommit.take(db.engine)
        driver = connection.driver_connection
        driver.execute("BEGIN")
        autocommit.give_back(connection)
        assert _closed(driver) and _spares() == []


def test_dispose_closes_the_spares_and_retires_those_in_use(app, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        dispose_retires_spares(client_id, closed=_closed)


def test_a_connection_from_another_process_is_neither_used_nor_closed(app, make_account):
    """After a fork the child must not touch the parent's connection (SQLite's locks are the process's)."""
    _, _, client_id, _ = _setup(app, make_account)
    with app.app_context():
        forked_connection_left_alone(client_id, closed=_closed)


def test_a_forked_child_knows_its_own_process_id():
    """The kept connections' fork check compares with a process id kept by an at-fork hook (not asked of the
    kernel on every request): in a real child it is the child's."""
    import os

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report, and leave without running the parent's test machinery
        try:
            os.write(write, b"1" if autocommit._pid == os.getpid() != os.getppid() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(child, 0)
    assert answer == b"1"
    assert autocommit._pid == os.getpid()  # and the parent's is still its own
