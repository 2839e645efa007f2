"""The protocol store's connections (idp.oidc.store.connections): kept beside the engine's pool, one per
request, given back, retired; and the SQLite writers' gate.

Every test that needs a database runs twice: on a SQLite file of the test's own (whatever the suite runs
on), and on PostgreSQL; the PostgreSQL-only ones (autocommit mode, prepared statements, connections lost)
on PostgreSQL only. PostgreSQL is always there: the database of IDP_TEST_DATABASE_URL when that is
PostgreSQL, else a scratch database made for this module on the server of :func:`tests.postgres.server_url`
and dropped afterwards (without a reachable server those cases are skipped, saying why, or failed under
``CI=true``). That the rows read and written this way are SQLAlchemy's own is
tests/oidc/test_store_records.py's.
"""
from __future__ import annotations

import os
import select as select_module
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, bindparam, cast, create_engine, insert, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

import idp.app
from idp.clients import OAuthClient
from idp.extensions import db
from idp.oidc import store
from idp.oidc.models import OAuthToken, token_hash
from idp.oidc.store import connections, records
from idp.oidc.store.statements import Statement
from tests.conftest import T0, TEST_DATABASE_URL, create_schema, empty_database
from tests.oidc.test_store_records import _count, _event, _insert_code, _setup, _token_values
from tests.postgres import connect, scratch_database


@pytest.fixture(scope="module")
def postgres_url():
    if TEST_DATABASE_URL.startswith("postgresql"):
        yield TEST_DATABASE_URL
        return
    with scratch_database("idp_store") as url:  # skips (fails under CI=true) without a reachable server
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    return request.getfixturevalue("postgres_url")


postgres_only = pytest.mark.parametrize("database", ["postgresql"], indirect=True)
sqlite_only = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def app(make_app, database):
    made = make_app(database_url=database)
    if database.startswith("postgresql") and not TEST_DATABASE_URL.startswith("postgresql"):
        with made.app_context():  # the scratch database: emptied for every test
            empty_database()
            create_schema()
            db.session.remove()
    return made


@pytest.fixture
def engine(app):
    return app.extensions["idp.oidc.store"].engine


@pytest.fixture
def admin(postgres_url):
    """A connection of the test's own, to look at and end the provider's sessions."""
    with connect(postgres_url) as connection:
        yield connection


def _store(app) -> store.Store:
    return app.extensions["idp.oidc.store"]


def _spares(engine) -> list:
    spares = connections._spares.get(engine)
    return spares.connections if spares is not None else []


def _lookup(app, client_id: str):
    """One request's lookup of the client: a connection taken, used, given back."""
    with _store(app).connect() as connection:
        return records.client(connection, client_id)


def _closed(driver) -> bool:
    if isinstance(driver, sqlite3.Connection):
        try:
            driver.execute("SELECT 1")
        except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
            return True
        return False
    return driver.closed


def _backend(connection) -> int:
    return connection.driver.info.backend_pid


def _terminate(admin, pid: int) -> None:
    """End a PostgreSQL session as a server restart or an idle timeout would, and wait until it is gone."""
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None:
        assert time.monotonic() < deadline, f"backend {pid} still there"
        time.sleep(0.01)


def _in_a_child(work) -> str:
    """Run ``work()`` in a forked child and return what it answers (a short text); the child leaves without
    running anything of the parent's (no test machinery, no finalizers)."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read)
            try:
                answer = work()
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                answer = f"raised {exc!r}"
            os.write(write, answer.encode("utf-8")[:4000])
        finally:
            os._exit(0)
    os.close(write)
    try:
        chunks = []
        while chunk := os.read(read, 4096):
            chunks.append(chunk)
    finally:
        os.close(read)
        os.waitpid(child, 0)
    return b"".join(chunks).decode("utf-8")


# -- kept connections, on both databases -------------------------------------------------------------------

def test_requests_take_a_spare_connection_and_leave_the_pool_alone(app, engine, make_account):
    _, _, client_id, _ = _setup(app, make_account)
    pool = engine.pool
    assert _lookup(app, client_id).client_id == client_id
    [spare] = _spares(engine)
    postgres = engine.dialect.name == "postgresql"
    assert type(spare) is (connections.PostgresConnection if postgres else connections.SqliteConnection)
    driver, checked_out = spare.driver, pool.checkedout()
    with _store(app).connect() as connection:
        assert connection is spare and _spares(engine) == []
        assert pool.checkedout() == checked_out  # the pool was not asked
        assert records.client(connection, client_id).client_id == client_id
    assert _spares(engine) == [spare] and spare.driver is driver  # the same connection, given back again
    assert pool.checkedout() == checked_out
    assert not spare.in_transaction()  # no read snapshot held between requests
    if postgres:
        assert driver.autocommit is True
        backend = _backend(spare)
        pooled = engine.raw_connection()  # the pool's own connections are left as they were
        try:
            assert pooled.driver_connection.autocommit is False
            assert pooled.driver_connection.info.backend_pid != backend
        finally:
            pooled.close()
    else:
        assert not driver.in_transaction
    _two_requests_at_once(app, engine, client_id, spare)


def _two_requests_at_once(app, engine, client_id: str, spare) -> None:
    """Requests at once each take their own connection (the one ``spare``, and a new one); all become spares.
    The threads have no application context: the store reads no Flask globals."""
    inside, release, taken = threading.Barrier(3), threading.Event(), []

    def hold():
        with _store(app).connect() as connection:
            taken.append(connection)
            records.client(connection, client_id)
            inside.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    try:
        assert _spares(engine) == []  # the two requests hold one each: the spare, and a new one
        assert len(taken) == 2 and taken[0] is not taken[1] and spare in taken
    finally:
        release.set()
        for thread in threads:
            thread.join(5)
    assert len(_spares(engine)) == 2 and spare in _spares(engine)


def test_a_spare_sees_what_others_committed_since(app, engine, make_account):
    """A kept connection holds no read snapshot between requests: a token committed through the ORM session
    after the spare's last request is found by the next request on the same spare."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with _store(app).connect() as connection:
        assert records.client_with_token(connection, client_id, token_hash("a"), refresh=False)[1] is None
    [spare] = _spares(engine)
    with app.app_context():
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now))
        db.session.commit()
    with _store(app).connect() as connection:
        assert connection is spare
        assert records.token(connection, token_hash("a"), refresh=False).account.id == account_id


def test_a_transaction_commits_on_a_spare_and_leaves_nothing_open(app, engine, make_account):
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with _store(app).connect() as connection:
        assert records.client(connection, client_id) is not None
        assert connection.transaction([], [store.insert_token(_token_values(client_pk, account_id, now)),
                                           store.insert_event(_event(now))]) == [1, 1]
        assert not connection.in_transaction()
    assert _spares(engine) == [connection] and not connection.in_transaction()
    with app.app_context():  # committed: another connection sees the rows
        assert _count("SELECT count(*) FROM oauth_tokens") == 1
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 1


def test_a_connection_given_back_in_a_transaction_is_closed(app, engine, make_account):
    """Something interrupted the request with a transaction open: the connection is closed, not kept (the
    pool would have rolled it back)."""
    _setup(app, make_account)
    connection = connections.take(engine)
    driver = connection.driver
    driver.execute("BEGIN")
    assert connection.in_transaction()
    connections.give_back(connection)
    assert _closed(driver) and connection.driver is None and _spares(engine) == []


def test_dispose_closes_the_spares_and_retires_those_in_use(app, engine, make_account):
    """``engine.dispose()`` closes the spare connections, and one in use when it comes back."""
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [spare] = _spares(engine)
    driver = spare.driver
    with _store(app).connect() as connection:
        assert connection is spare and _spares(engine) == []
        engine.dispose()
        assert not _closed(driver)  # in use: left alone until given back
        assert records.client(connection, client_id).client_id == client_id
    assert _closed(driver) and _spares(engine) == []  # given back after the dispose: closed, not kept
    _lookup(app, client_id)
    [fresh] = _spares(engine)
    assert fresh is not spare
    fresh_driver = fresh.driver
    engine.dispose()
    assert fresh.driver is None and _closed(fresh_driver) and _spares(engine) == []
    assert _lookup(app, client_id).client_id == client_id  # and the next request connects afresh


def test_a_connection_from_another_process_is_neither_used_nor_closed(app, engine, make_account):
    """A spare carrying another process's id (made before a fork) is set aside: not used (its session is the
    parent's), not closed (closing it would end the parent's session)."""
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [inherited] = _spares(engine)
    inherited.pid = -1  # as if made by the parent of this process
    try:
        _lookup(app, client_id)
        [own] = _spares(engine)
        assert own is not inherited
        assert inherited.driver is not None and not _closed(inherited.driver)
        assert inherited in connections._forked
    finally:
        if inherited in connections._forked:
            connections._forked.remove(inherited)
        inherited.pid = os.getpid()
        inherited.invalidate()


def test_a_connection_made_before_a_fork_is_not_used_in_the_child(app, engine, make_account):
    """A real fork: the child takes a connection of its own, and leaves the parent's spare alone: the
    parent's next request runs on it (on PostgreSQL its session would have ended, had the child closed it)."""
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [inherited] = _spares(engine)
    backend = _backend(inherited) if engine.dialect.name == "postgresql" else None
    with app.app_context():
        db.session.remove()
    engine.pool.dispose()  # the child's pool connects afresh, rather than check out one of the parent's

    def in_the_child() -> str:
        taken = connections.take(engine)
        try:
            facts = {"a connection of its own": taken is not inherited,
                     "made in the child": taken.pid == os.getpid() == connections._pid,
                     "the inherited set aside": inherited in connections._forked,
                     "the inherited not closed": inherited.driver is not None,
                     "the lookup answers": records.client(taken, client_id).client_id == client_id}
        finally:
            connections.give_back(taken)
        failed = [fact for fact, true in facts.items() if not true]
        return "ok" if not failed else "failed: " + ", ".join(failed)

    assert _in_a_child(in_the_child) == "ok"
    assert _spares(engine) == [inherited] and inherited not in connections._forked
    with _store(app).connect() as connection:
        assert connection is inherited
        assert records.client(connection, client_id).client_id == client_id
        if backend is not None:
            assert _backend(connection) == backend
    assert _spares(engine) == [inherited]


def test_a_forked_child_knows_its_own_process_id():
    """The kept connections' fork check compares with a process id kept by an at-fork hook (not asked of the
    kernel on every request): in a real child it is the child's."""
    answer = _in_a_child(lambda: "1" if connections._pid == os.getpid() != os.getppid() else "0")
    assert answer == "1"
    assert connections._pid == os.getpid()  # and the parent's is still its own


@sqlite_only
def test_a_sqlite_connection_is_never_tested_for_being_idle(app, engine, make_account, monkeypatch):
    """A SQLite file cannot go away under us: a spare idle for long is used as it is."""
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [spare] = _spares(engine)
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda driver: pings.append(driver) or True)
    spare.last_used -= 3600
    assert _lookup(app, client_id).client_id == client_id
    assert pings == [] and _spares(engine) == [spare]


# -- PostgreSQL: autocommit, prepared statements, connections lost ----------------------------------------

@postgres_only
def test_an_idle_connection_is_tested_before_use(app, engine, make_account, monkeypatch):
    """Idle for longer than PING_AFTER_IDLE (the pool's own threshold): tested as it is taken; used a moment
    ago: not (one more round trip on every request under load)."""
    assert connections.PING_AFTER_IDLE == store.PING_AFTER_IDLE == idp.app.PING_AFTER_IDLE
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [spare] = _spares(engine)
    assert spare.ping_after == connections.PING_AFTER_IDLE
    pings, real = [], engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda driver: pings.append(driver) or real(driver))
    _lookup(app, client_id)
    assert pings == []
    spare.last_used -= connections.PING_AFTER_IDLE + 1
    _lookup(app, client_id)
    assert pings == [spare.driver] and _spares(engine) == [spare]  # alive: kept


@postgres_only
def test_lookups_are_prepared_statements_of_the_connection(app, engine, make_account):
    """A lookup is prepared on the server once per connection (under a name of the connection's own) and
    executed by name afterwards; another lookup is another prepared statement."""
    account_id, _, client_id, _ = _setup(app, make_account)
    prepared = "SELECT name, statement FROM pg_prepared_statements ORDER BY name"
    with _store(app).connect() as connection:
        records.client(connection, client_id)
        [(name, sql)] = connection.driver.execute(prepared).fetchall()
        assert name == "idp_1" and "FROM oauth_clients" in sql and "$1" in sql
        records.client(connection, "nobody")
        records.client(connection, client_id)
        assert len(connection.driver.execute(prepared).fetchall()) == 1 and connection.numbered == 1
        assert records.account(connection, account_id).id == account_id
        assert [n for n, _ in connection.driver.execute(prepared).fetchall()] == ["idp_1", "idp_2"]
        assert sorted(connection.prepared.values()) == [b"idp_1", b"idp_2"]


@postgres_only
def test_behind_a_pooler_nothing_is_prepared_under_a_name(make_app, database, make_account):
    """IDP_DATABASE_POOLER=pgbouncer: the same lookups, each an unnamed statement (one round trip), and
    SQLAlchemy's own queries never prepared by psycopg either, however often they run: PgBouncer in
    transaction pooling mode hands the server connection to other clients between two statements."""
    app = make_app(database_url=database, database_pooler="pgbouncer")
    if not TEST_DATABASE_URL.startswith("postgresql"):
        with app.app_context():
            empty_database()
            create_schema()
            db.session.remove()
    account_id, _, client_id, _ = _setup(app, make_account)
    prepared = "SELECT name FROM pg_prepared_statements"
    with _store(app).connect() as connection:
        assert not connection.named and connection.driver.prepare_threshold is None
        for _ in range(10):
            assert records.client(connection, client_id).client_id == client_id
            assert records.client(connection, "nobody") is None
            assert records.account(connection, account_id).id == account_id
        assert connection.driver.execute(prepared).fetchall() == [] and connection.prepared == {}
    with app.app_context():
        for _ in range(10):  # psycopg prepares a query from its fifth run unless told not to
            db.session.execute(select(OAuthClient.client_id).where(OAuthClient.client_id == client_id)).all()
        assert db.session.connection().connection.dbapi_connection.execute(prepared).fetchall() == []
        db.session.remove()


@postgres_only
def test_a_lookup_the_server_refuses_raises_as_through_a_cursor(app, engine, make_account):
    """A failed lookup runs once more through psycopg's cursor, which raises SQLAlchemy's exception, naming
    no value; its prepared statements are made afresh; the connection stays usable and is kept."""
    _, _, client_id, _ = _setup(app, make_account)
    number = Statement(select(cast(bindparam("text", type_=String), Integer).label("n")))
    with _store(app).connect() as connection:
        assert connection.first(number, {"text": "6"}) == (6,)
        assert records.client(connection, client_id).client_id == client_id
        before = connection.numbered
        with pytest.raises(sa_exc.DataError) as raised:
            connection.first(number, {"text": "six-secret"})
        message = str(raised.value)
        assert "invalid input syntax for type integer" in message
        # PostgreSQL's own message quotes the text it could not read, as through SQLAlchemy; SQLAlchemy's
        # part names no parameter.
        assert raised.value.params is None and raised.value.hide_parameters
        assert not raised.value.connection_invalidated and connection.prepared == {}
        assert not connection.in_transaction() and connection.driver.autocommit is True
        assert connection.first(number, {"text": "8"}) == (8,)
        assert records.client(connection, client_id).client_id == client_id
        assert connection.numbered == before + 2  # prepared again, under new names
    assert _spares(engine) == [connection]


@postgres_only
def test_a_connection_lost_between_requests_is_dropped_and_replaced(app, engine, make_account, admin):
    _, _, client_id, _ = _setup(app, make_account)
    _lookup(app, client_id)
    [lost] = _spares(engine)
    _terminate(admin, _backend(lost))
    # Used a moment ago, so not tested first: the lookup fails, as through the pool, and says why.
    connection = connections.take(engine)
    assert connection is lost
    with pytest.raises(sa_exc.OperationalError) as raised:
        records.client(connection, client_id)
    assert raised.value.connection_invalidated and lost.driver is None  # closed at once
    connections.give_back(connection)
    assert _spares(engine) == []  # not given back
    assert _lookup(app, client_id).client_id == client_id  # the next request connects afresh
    [fresh] = _spares(engine)
    assert fresh is not lost
    # Idle for longer than PING_AFTER_IDLE: tested as it is taken, and replaced before use.
    _terminate(admin, _backend(fresh))
    fresh.last_used -= fresh.ping_after + 1
    assert _lookup(app, client_id).client_id == client_id
    [replacement] = _spares(engine)
    assert replacement is not fresh and fresh.driver is None


@postgres_only
@pytest.mark.parametrize("spends", [False, True])
def test_a_connection_lost_in_a_transaction_is_invalidated(app, engine, make_account, admin, spends):
    """The transaction's round trip finds the session ended: SQLAlchemy's OperationalError (the connection
    invalidated, no value named), nothing written, the connection closed and not given back."""
    account_id, client_pk, client_id, now = _setup(app, make_account)
    with app.app_context():
        code_id = _insert_code(client_pk, account_id, now)
    checked = [store.spend_code(code_id, now)] if spends else []
    with _store(app).connect() as connection:
        assert records.client(connection, client_id) is not None
        _terminate(admin, _backend(connection))
        with pytest.raises(sa_exc.OperationalError) as raised:
            connection.transaction(checked, [store.insert_event(_event(now, "agent-x"))])
        assert raised.value.connection_invalidated and "agent-x" not in str(raised.value)
        assert connection.driver is None
    assert _spares(engine) == []
    with app.app_context():
        assert _count("SELECT count(*) FROM audit_events WHERE event = 'token.issued'") == 0
        assert _count("SELECT count(*) FROM oauth_codes WHERE used_at IS NULL") == 1
    with _store(app).connect() as connection:  # the next request connects afresh
        assert connection.transaction(checked, [store.insert_event(_event(now))]) == [1]


@postgres_only
def test_userinfo_after_its_connection_was_lost(app, engine, make_account, admin):
    """Through the protocol API: a connection lost while idle is replaced before the request uses it; one
    lost a moment after its last use fails that request (server_error, as a pooled connection would) and
    the next request answers on a fresh connection."""
    account_id, client_pk, _, now = _setup(app, make_account)
    with app.app_context():
        db.session.execute(insert(OAuthToken.__table__), _token_values(client_pk, account_id, now))
        db.session.commit()
    client = app.test_client()
    bearer = {"Authorization": "Bearer a"}
    first = client.get("/oauth/userinfo", headers=bearer)
    assert first.status_code == 200, first.data
    [spare] = _spares(engine)
    _terminate(admin, _backend(spare))
    spare.last_used -= spare.ping_after + 1
    again = client.get("/oauth/userinfo", headers=bearer)
    assert again.status_code == 200 and again.json == first.json
    [fresh] = _spares(engine)
    assert fresh is not spare and spare.driver is None

    _terminate(admin, _backend(fresh))
    failed = client.get("/oauth/userinfo", headers=bearer)
    assert failed.status_code == 500 and failed.json == {"error": "server_error"}
    assert fresh.driver is None and _spares(engine) == []
    last = client.get("/oauth/userinfo", headers=bearer)
    assert last.status_code == 200 and last.json == first.json
    assert len(_spares(engine)) == 1 and fresh not in _spares(engine)


# -- SQLite: the writers' gate, a database in memory -------------------------------------------------------

@sqlite_only
def test_a_sqlite_transaction_waits_for_the_writers_turn(app, engine, make_account):
    account_id, client_pk, _, now = _setup(app, make_account)
    done = []

    def write():
        with _store(app).connect() as connection:
            done.append(connection.transaction([], [store.insert_event(_event(now))]))

    writer = threading.Thread(target=write)
    with connections.writers_turn(engine.url.database):
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and done == []  # waiting for the turn
    writer.join(5)
    assert done == [[1]]
    assert Path(engine.url.database + "-writers.lock").exists()


@pytest.mark.parametrize("where", ["file", "memory", "unwritable"])
def test_writers_of_one_database_in_this_process_take_turns(tmp_path, where):
    """Threads queue on the gate; beside a file, a lock file (for other processes); a database in memory or
    in a folder the provider cannot write to queues within the process only."""
    database = {"file": str(tmp_path / "gate.sqlite3"), "memory": ":memory:",
                "unwritable": str(tmp_path / "missing-folder" / "gate.sqlite3")}[where]
    order = []

    def second():
        with connections.writers_turn(database):
            order.append("second")

    with connections.writers_turn(database):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.2)
        order.append("first")  # the second writer is still waiting
    thread.join(5)
    assert order == ["first", "second"]
    assert Path(database + "-writers.lock").exists() == (where == "file")


def test_writers_of_one_file_in_two_processes_take_turns(tmp_path):
    """Another process (a gunicorn worker forked after the gate's lock file was opened here) waits on
    ``flock`` of its own descriptor until this one's turn ends."""
    database = str(tmp_path / "gate.sqlite3")
    with connections.writers_turn(database):  # this process's descriptor, open before the fork
        pass
    go_read, go_write = os.pipe()
    turn_read, turn_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(go_write)
            os.close(turn_read)
            os.read(go_read, 1)  # the parent holds the gate
            with connections.writers_turn(database):
                os.write(turn_write, b"in")
        finally:
            os._exit(0)
    os.close(go_read)
    os.close(turn_write)
    try:
        with connections.writers_turn(database):
            os.write(go_write, b"1")
            waiting, _, _ = select_module.select([turn_read], [], [], 0.5)
            assert waiting == []  # the child has not had its turn while this one holds it
        ready, _, _ = select_module.select([turn_read], [], [], 5)
        assert ready and os.read(turn_read, 2) == b"in"
    finally:
        os.close(go_write)
        os.close(turn_read)
        os.waitpid(child, 0)


def test_a_database_in_memory_uses_the_pools_own_connection():
    """A SQLite database in memory is its connection: each request checks the pool's one out and back, and
    none is kept beside the pool."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        db.metadata.create_all(engine)
        with engine.begin() as setup:
            setup.execute(insert(OAuthClient.__table__), dict(client_id="memory-rp", name="В памяти",
                                                              created_at=T0))
        memory = store.Store(engine, concurrency=4)
        with memory.connect() as connection:
            assert type(connection) is connections.MemoryConnection
            first, driver = connection, connection.driver
            assert connection.fairy.dbapi_connection is driver  # checked out of the pool
            assert records.client(connection, "memory-rp").redirect_uris == []
            assert connection.transaction([], [store.insert_event(_event(T0))]) == [1]
            assert not connection.in_transaction()
        assert first.fairy.dbapi_connection is None and engine not in connections._spares  # checked in
        with memory.connect() as connection:  # the same database: what the last request wrote is there
            assert connection.driver is driver
            assert connection.all(Statement(select(db.metadata.tables["audit_events"].c.event)), {}) == [
                ("token.issued",)]
    finally:
        engine.dispose()


def test_sqlite_file_or_memory():
    assert connections.sqlite_file("/srv/idp/idp.sqlite3") and connections.sqlite_file("idp.sqlite3")
    for memory in (None, "", ":memory:", "file:idp?mode=memory&cache=shared"):
        assert not connections.sqlite_file(memory)


def test_placeholders_are_numbered_in_the_order_of_first_use():
    sql = "SELECT %(b)s, %(a)s, %(b)s FROM t WHERE name LIKE 'x%%' AND id = %(id)s"
    numbered = connections._numbered(sql)
    assert numbered == (b"SELECT $1, $2, $1 FROM t WHERE name LIKE 'x%' AND id = $3", ("b", "a", "id"))
