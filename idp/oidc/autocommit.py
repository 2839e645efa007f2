"""The connections of the hot paths' statements apart (:mod:`idp.oidc.sql`), kept beside the pool.

Inside :func:`idp.oidc.sql.read_only` (UserInfo, introspection) and :func:`idp.oidc.sql.reads_apart` (the
token endpoint) the statements run outside the ORM session, with no transaction open between them. They
run on a connection from a short list of spare ones per engine and process (:func:`take`,
:func:`give_back`), not one checked out of the engine's pool and back for each request. On PostgreSQL
(:class:`AutocommitConnection`) it stays in autocommit mode, and a lookup is sent as libpq's own
``PQexecPrepared`` (:meth:`AutocommitConnection.first`), not through a psycopg cursor. A SQLite file's
(:class:`SqliteConnection`) is as the pool made it: pysqlite begins no transaction for a SELECT, and the
token endpoint's writes are one transaction committed or rolled back before the connection is given back
(:func:`idp.oidc.sql.transaction`); a SQLite database in memory keeps its pool (its connection is the
database).

Why: the pool's checkout and checkin around a request (its lock and queue, its events, autocommit
switched on and back, the rollback a pool makes of every connection given back) cost about 25 µs of
CPU on PostgreSQL (15–20 µs on SQLite, a sixth of a UserInfo or introspection request there), and psycopg's
``cursor.execute`` + ``fetchone`` of a prepared statement about 30 µs more than the
libpq call and the row's conversion (``bench/profile_endpoints.py`` on the development machine):
together about a third of a UserInfo or introspection request, whose whole work is one indexed lookup.
Taking a spare connection is a ``list.pop()``, giving it back an ``append()`` (atomic under the GIL).

What stays the same:

* the statements, their parameters and rows: the values are dumped by psycopg's own
  :class:`~psycopg.adapt.Transformer` of the connection, with the types psycopg would choose, and the
  statement is prepared with those types, as psycopg prepares a statement it runs often; the row is
  loaded by the same transformer with the connection's loaders;
* errors: a lookup that does not answer with rows (an error, a connection lost) is run once more through
  psycopg's cursor, which raises as before (a lookup changes nothing, so the second run is harmless); a
  connection lost is closed (:meth:`AutocommitConnection.invalidate`), never given back;
* an idle PostgreSQL connection is tested before use, as the pool's are (``idp.app.PING_AFTER_IDLE``): one
  that sat unused longer and no longer answers is replaced before the request uses it;
* nothing stays open between requests: a connection given back with a transaction open (something
  interrupted the request) is closed, not kept, where the pool would have rolled it back;
* a connection is made by the engine's pool and detached from it, so the engine's and dialect's
  connect-time settings apply; one made in another process (before a fork) is neither used nor closed
  (closing it would end the parent's session); ``engine.dispose()`` closes the spare ones and retires
  those in use when they come back.

The cost: a process keeps as many of these open as it has served such requests at once (at most its
threads) besides the pool's own (README, "Deployment": ``max_connections``).
"""
from __future__ import annotations

import os
import re
import time
import weakref

from sqlalchemy import event

_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction open, no command in progress

#: The answer of :meth:`AutocommitConnection.first` when the statement did not answer with rows.
FAILED = object()

_spares: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # engine → its _Spares
_forked: list = []  # connections made in another process: kept referenced, so never closed here
_pid = os.getpid()  # this process's (asking the kernel on every request cost a system call)


def _forked_child() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked_child)


class _Spares:
    """An engine's spare connections in this process, and its generation (counts ``dispose()`` calls)."""

    __slots__ = ("connections", "generation")

    def __init__(self):
        self.connections: list = []
        self.generation = 0


def take(engine) -> "KeptConnection":
    """A connection to ``engine``'s database outside any transaction: a spare one, or a new one."""
    spares = _spares.get(engine)
    if spares is None:
        spares = _spares_of(engine)
    while True:
        try:
            connection = spares.connections.pop()
        except IndexError:
            kind = SqliteConnection if engine.dialect.name == "sqlite" else AutocommitConnection
            return kind(engine, spares)
        if connection.usable():
            return connection


def give_back(connection: "KeptConnection") -> None:
    """The request is done with ``connection``: a spare again, unless it was closed or its engine disposed."""
    spares = connection.spares
    if connection.driver_connection is None:
        return
    if connection.made_in != spares.generation or connection.in_transaction():
        connection.invalidate()  # its engine disposed, or something interrupted left a transaction open
        return
    connection.last_used = time.monotonic()
    spares.connections.append(connection)


def _spares_of(engine) -> _Spares:
    spares = _spares[engine] = _Spares()

    @event.listens_for(engine, "engine_disposed")
    def _retire(_engine):
        spares.generation += 1
        while spares.connections:
            spares.connections.pop().invalidate()

    return spares


class KeptConnection:
    """A DBAPI connection kept beside the pool (see the module's documentation). It has what
    :mod:`idp.oidc.sql` uses of a pooled connection: ``dbapi_connection`` and ``driver_connection`` (None
    once closed), ``cursor()``, ``info`` and ``invalidate()``."""

    #: Seconds unused after which a spare connection is tested before use.
    ping_after = float("inf")

    def __init__(self, engine, spares: _Spares):
        fairy = engine.raw_connection()  # the pool's connect events, and its test of an idle connection
        fairy.detach()  # ours now: the pool makes another in its place when it needs one
        driver = fairy.dbapi_connection
        try:
            self._prepare(driver)
        except Exception:
            driver.close()
            raise
        self.dbapi_connection = self.driver_connection = driver
        self.info: dict = {}
        self.dialect = engine.dialect
        self.pid = _pid
        self.spares = spares
        self.made_in = spares.generation
        self.last_used = time.monotonic()

    def _prepare(self, driver) -> None:
        """Set up a new DBAPI connection for its use here."""

    def in_transaction(self) -> bool:
        raise NotImplementedError

    def _closed(self) -> bool:
        """Whether the driver knows the connection closed (lost)."""
        return False

    def cursor(self):
        return self.driver_connection.cursor()

    def usable(self) -> bool:
        """Whether a spare connection can serve a request; if not, it is closed (or, made in another
        process, left alone)."""
        if self.pid != _pid:
            _forked.append(self)
            return False
        if self.made_in != self.spares.generation or self._closed():
            self.invalidate()
            return False
        if time.monotonic() - self.last_used > self.ping_after:
            try:
                self.dialect.do_ping(self.driver_connection)
            except self.dialect.loaded_dbapi.Error:
                self.invalidate()
                return False
        return True

    def invalidate(self, _exc=None) -> None:
        """Close it for good (a connection lost, or its engine disposed)."""
        driver, self.dbapi_connection, self.driver_connection = self.driver_connection, None, None
        self.info.clear()
        if driver is not None and self.pid == _pid:
            try:
                driver.close()
            except Exception:  # noqa: BLE001 - it is of no further use either way
                pass


class SqliteConnection(KeptConnection):
    """A SQLite file's connection (pysqlite begins a transaction before a write, never before a SELECT):
    a file on this machine, nothing to test after a while."""

    def in_transaction(self) -> bool:
        return self.driver_connection.in_transaction


class AutocommitConnection(KeptConnection):
    """A PostgreSQL connection in autocommit mode, its lookups sent as libpq's prepared statements."""

    def __init__(self, engine, spares: _Spares):
        from psycopg import pq

        from idp.app import PING_AFTER_IDLE

        super().__init__(engine, spares)
        self.prepared_ok, self.rows_ok = pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK
        self.ping_after = PING_AFTER_IDLE
        self.prepared: dict = {}  # (statement, parameter types) → name of the server's prepared statement
        self.numbered = 0

    def _prepare(self, driver) -> None:
        from psycopg.adapt import Transformer

        driver.autocommit = True
        self.transformer = Transformer(driver)

    def in_transaction(self) -> bool:
        return self.driver_connection.pgconn.transaction_status != _IDLE

    def _closed(self) -> bool:
        return self.driver_connection.closed

    def first(self, sql: str, arguments: dict):
        """The first row of the SELECT ``sql`` (SQLAlchemy's pyformat) for ``arguments``, or None; or
        :data:`FAILED` if the server did not answer with rows (the caller runs it through a cursor)."""
        query, names = _numbered(sql)
        transformer = self.transformer
        values = transformer.dump_sequence([arguments[name] for name in names], _auto(len(names)))
        types = transformer.types
        key = (sql, types)
        pgconn = self.driver_connection.pgconn
        name = self.prepared.get(key)
        if name is None:
            self.numbered += 1
            name = b"idp_%d" % self.numbered
            if pgconn.prepare(name, query, types).status != self.prepared_ok:
                return FAILED
            self.prepared[key] = name
        result = pgconn.exec_prepared(name, values, transformer.formats)
        if result.status != self.rows_ok:
            self.prepared.clear()  # whatever happened, prepare afresh (under new names) next time
            return FAILED
        if result.ntuples == 0:
            return None
        transformer.set_pgresult(result)
        try:
            return transformer.load_row(0, tuple)
        finally:
            transformer.set_pgresult(None)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_numbered_cache: dict = {}
_auto_cache: dict = {}


def _numbered(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """SQLAlchemy's pyformat statement as PostgreSQL's (``$1`` …, ``%%`` → ``%``), and the parameter names
    in the order of their numbers (a name used twice is one parameter)."""
    found = _numbered_cache.get(sql)
    if found is None:
        names: list[str] = []

        def number(match: re.Match) -> str:
            name = match.group(1)
            if name is None:
                return "%"
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        found = _numbered_cache[sql] = (_PLACEHOLDER.sub(number, sql).encode("utf-8"), tuple(names))
    return found


def _auto(count: int) -> list:
    formats = _auto_cache.get(count)
    if formats is None:
        from psycopg.adapt import PyFormat

        formats = _auto_cache[count] = [PyFormat.AUTO] * count
    return formats
