"""The protocol endpoints' database connections: kept beside the engine's pool, one per request at a time.

A request of the protocol API takes one connection (:func:`take`), runs its lookups on it outside any
transaction, writes what it issues in one short transaction on it (:meth:`KeptConnection.transaction`),
and gives it back (:func:`give_back`). Taking a spare connection is a ``list.pop()``, giving it back an
``append()`` (atomic under the GIL): the pool's checkout and checkin around a request (its lock and queue,
its events, the rollback it makes of every connection given back) cost about 25 µs of CPU on PostgreSQL
and 15–20 µs on SQLite, a sixth of a UserInfo request (``bench/profile_endpoints.py``).

* PostgreSQL (:class:`PostgresConnection`): autocommit mode, so a lookup is one round trip (no BEGIN, no
  COMMIT; READ COMMITTED takes a fresh snapshot for every statement anyway), sent as libpq's own
  prepared-statement call (``PQexecPrepared``) with psycopg's :class:`~psycopg.adapt.Transformer` dumping
  and loading the values as psycopg would. A transaction's statements go as one or two simple queries
  (:meth:`PostgresConnection.transaction`). Behind PgBouncer in transaction pooling mode
  (``IDP_DATABASE_POOLER=pgbouncer``: the engine's connections have psycopg's ``prepare_threshold=None``) a
  lookup is the same round trip with an unnamed statement (``PQexecParams``): a server connection serves
  other clients between two statements, so nothing named on it would still be there. No other state is
  kept on a connection between requests (no ``SET``, advisory lock, ``LISTEN`` or temporary table).
* A SQLite file (:class:`SqliteConnection`): as the pool made it (pysqlite begins no transaction for a
  SELECT); writers of one file queue on a lock instead of SQLite's busy-handler sleeps (:func:`writers_turn`).
* A SQLite database in memory: the pool's own connection (it is the database), checked out per request.

What stays as the pool would do it: connections are made by the engine's pool and detached from it (the
engine's connect-time settings apply); an idle PostgreSQL connection is tested before use
(:data:`PING_AFTER_IDLE`); a connection lost is closed, never given back; one given back with a
transaction open (something interrupted the request) is closed; one made in another process (before a
fork) is neither used nor closed; ``engine.dispose()`` closes the spare ones and retires those in use when
they come back. The cost: a process keeps as many of these open as it has served protocol requests at once
(at most its threads) besides the pool's own (README, "Deployment": ``max_connections``).
"""
from __future__ import annotations

import fcntl
import os
import re
import threading
import time
import weakref
from contextlib import contextmanager

from sqlalchemy import event

from idp.oidc.store.statements import Statement, database_error

#: A connection idle longer than this is tested before use (seconds): these and the app's pool (idp.app).
PING_AFTER_IDLE = 1.0

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
    if engine.dialect.name == "sqlite" and not sqlite_file(engine.url.database):
        return MemoryConnection(engine)
    spares = _spares.get(engine)
    if spares is None:
        spares = _spares_of(engine)
    while True:
        try:
            connection = spares.connections.pop()
        except IndexError:
            kind = SqliteConnection if engine.dialect.name == "sqlite" else PostgresConnection
            return kind(engine, spares)
        if connection.usable():
            return connection


def give_back(connection: "KeptConnection") -> None:
    """The request is done with ``connection``: a spare again, unless it was closed or its engine disposed."""
    connection.release()


def _spares_of(engine) -> _Spares:
    spares = _spares[engine] = _Spares()

    @event.listens_for(engine, "engine_disposed")
    def _retire(_engine):
        spares.generation += 1
        while spares.connections:
            spares.connections.pop().invalidate()

    return spares


def sqlite_file(database: str | None) -> bool:
    """Whether a SQLite URL's database is a file (each connection its own), not memory."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


class KeptConnection:
    """A DBAPI connection kept beside the pool (see the module's documentation)."""

    #: Seconds unused after which a spare connection is tested before use.
    ping_after = float("inf")

    def __init__(self, engine, spares: _Spares | None):
        fairy = engine.raw_connection()  # the pool's connect events, and its test of an idle connection
        fairy.detach()  # ours now: the pool makes another in its place when it needs one
        driver = fairy.dbapi_connection
        try:
            self.prepare(driver)
        except Exception:
            driver.close()
            raise
        self.driver = driver
        self.engine = engine
        self.dialect = engine.dialect
        self.pid = _pid
        self.spares = spares
        self.made_in = spares.generation if spares is not None else 0
        self.last_used = time.monotonic()

    def prepare(self, driver) -> None:
        """Set up a new DBAPI connection for its use here."""

    def in_transaction(self) -> bool:
        raise NotImplementedError

    def closed(self) -> bool:
        """Whether the driver knows the connection closed (lost)."""
        return False

    # -- the pool's part ----------------------------------------------------------------------------

    def usable(self) -> bool:
        """Whether a spare connection can serve a request; if not, it is closed (or, made in another
        process, left alone)."""
        if self.pid != _pid:
            _forked.append(self)
            return False
        if self.made_in != self.spares.generation or self.closed():
            self.invalidate()
            return False
        if time.monotonic() - self.last_used > self.ping_after:
            try:
                self.dialect.do_ping(self.driver)
            except self.dialect.loaded_dbapi.Error:
                self.invalidate()
                return False
        return True

    def release(self) -> None:
        if self.driver is None:
            return
        if self.made_in != self.spares.generation or self.in_transaction():
            self.invalidate()  # its engine disposed, or something interrupted left a transaction open
            return
        self.last_used = time.monotonic()
        self.spares.connections.append(self)

    def invalidate(self) -> None:
        """Close it for good (a connection lost, or its engine disposed)."""
        driver, self.driver = self.driver, None
        if driver is not None and self.pid == _pid:
            try:
                driver.close()
            except Exception:  # noqa: BLE001 - it is of no further use either way
                pass

    # -- statements -----------------------------------------------------------------------------------

    def first(self, statement: Statement, params: dict) -> tuple | None:
        """The first row ``statement`` returns for ``params``, or None."""
        compiled = statement.compile_for(self.dialect)
        return compiled.row(self.execute(compiled, params, fetch="one"))

    def all(self, statement: Statement, params: dict) -> list[tuple]:
        compiled = statement.compile_for(self.dialect)
        return [compiled.row(row) for row in self.execute(compiled, params, fetch="all")]

    def execute(self, compiled, params: dict, *, fetch: str):
        arguments = compiled.arguments(params)
        cursor = None
        try:  # making the cursor may fail too (psycopg refuses a connection it knows is lost)
            cursor = self.driver.cursor()
            cursor.execute(compiled.sql, arguments)
            return cursor.fetchone() if fetch == "one" else cursor.fetchall()
        except self.dialect.loaded_dbapi.Error as exc:
            lost = self.dialect.is_disconnect(exc, self.driver, cursor)
            if lost:
                self.invalidate()
            raise database_error(compiled.sql, exc, self.dialect, invalidated=lost) from exc
        finally:
            if cursor is not None and self.driver is not None:
                cursor.close()

    def transaction(self, checked: list[tuple[Statement, dict]], rest: list[tuple[Statement, dict]]) -> list[int]:
        """Run write statements as one transaction and commit it. ``checked``: statements that must match
        exactly one row each (a code or refresh token spent by a conditional UPDATE), run first; ``rest``:
        the others. Returns the number of rows each of ``rest`` matched. Raises :class:`LostRace` (nothing
        written) if one of ``checked`` matched none; a database error rolls back what was sent and is
        raised as SQLAlchemy's exception."""
        raise NotImplementedError


class SqliteConnection(KeptConnection):
    """A SQLite file's connection: pysqlite begins a transaction before a write, never before a SELECT."""

    def in_transaction(self) -> bool:
        return self.driver.in_transaction

    def transaction(self, checked, rest) -> list[int]:
        driver, dialect = self.driver, self.dialect
        with writers_turn(self.engine.url.database):
            cursor = driver.cursor()
            sql = "BEGIN"  # what an error names: the statement with its placeholders, never the values
            try:
                counts = []
                for index, (statement, params) in enumerate([*checked, *rest]):
                    compiled = statement.compile_for(dialect)
                    sql = compiled.sql
                    cursor.execute(sql, compiled.arguments(params))
                    if index < len(checked) and cursor.rowcount != 1:
                        driver.rollback()
                        raise LostRace(index)
                    counts.append(cursor.rowcount)
                sql = "COMMIT"
                driver.commit()
                return counts[len(checked):]
            except dialect.loaded_dbapi.Error as exc:
                raise database_error(sql, exc, dialect) from exc
            finally:
                cursor.close()
                if driver.in_transaction:  # an error, or anything else that interrupted us: nothing stays open
                    driver.rollback()


class MemoryConnection(SqliteConnection):
    """A SQLite database in memory: the pool's own connection (it is the database), back to the pool after."""

    def __init__(self, engine):
        self.fairy = engine.raw_connection()
        self.driver = self.fairy.dbapi_connection
        self.engine, self.dialect = engine, engine.dialect

    def release(self) -> None:
        self.fairy.close()

    def invalidate(self) -> None:
        self.fairy.invalidate()


class PostgresConnection(KeptConnection):
    """A PostgreSQL connection in autocommit mode, its lookups sent as libpq's prepared statements (named ones
    kept per connection; unnamed ones behind a transaction-pooling PgBouncer)."""

    ping_after = PING_AFTER_IDLE

    def __init__(self, engine, spares: _Spares):
        from psycopg import pq

        super().__init__(engine, spares)
        self.prepared_ok, self.rows_ok = pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK
        self.idle = pq.TransactionStatus.IDLE
        self.prepared: dict = {}  # (statement, parameter types) → name of the server's prepared statement
        self.numbered = 0
        #: Whether lookups may be kept prepared on the server under a name: not when psycopg was told never to
        #: prepare (``prepare_threshold=None``, set by idp.startup.engine_options for a pooler).
        self.named = self.driver.prepare_threshold is not None

    def prepare(self, driver) -> None:
        from psycopg.adapt import Transformer

        driver.autocommit = True
        self.transformer = Transformer(driver)

    def in_transaction(self) -> bool:
        return self.driver.pgconn.transaction_status != self.idle

    def closed(self) -> bool:
        return self.driver.closed

    def execute(self, compiled, params: dict, *, fetch: str):
        if fetch == "one":
            row = self.prepared_first(compiled.sql, compiled.arguments(params))
            if row is not _FAILED:
                return row  # else the cursor runs it again, and raises what went wrong
        return super().execute(compiled, params, fetch=fetch)

    def prepared_first(self, sql: str, arguments: dict):
        """The first row of the SELECT ``sql`` (SQLAlchemy's pyformat) for ``arguments``, or None; or
        :data:`_FAILED` if the server did not answer with rows (the caller runs it through a cursor)."""
        query, names = _numbered(sql)
        transformer = self.transformer
        values = transformer.dump_sequence([arguments[name] for name in names], _auto(len(names)))
        types = transformer.types
        pgconn = self.driver.pgconn
        if self.named:
            key = (sql, types)
            name = self.prepared.get(key)
            if name is None:
                self.numbered += 1
                name = b"idp_%d" % self.numbered
                if pgconn.prepare(name, query, types).status != self.prepared_ok:
                    return _FAILED
                self.prepared[key] = name
            result = pgconn.exec_prepared(name, values, transformer.formats)
        else:  # Parse (unnamed), Bind, Execute and Sync in one go: one round trip, nothing left on the server
            result = pgconn.exec_params(query, values, types, transformer.formats)
        if result.status != self.rows_ok:
            self.prepared.clear()  # whatever happened, prepare afresh (under new names) next time
            return _FAILED
        if result.ntuples == 0:
            return None
        transformer.set_pgresult(result)
        try:
            return transformer.load_row(0, tuple)
        finally:
            transformer.set_pgresult(None)

    def transaction(self, checked, rest) -> list[int]:
        """PostgreSQL: without ``checked`` the whole transaction is one round trip (``BEGIN; …; COMMIT`` in
        one simple query); with them, two: ``BEGIN`` and the checked statements, then, if each matched one
        row, the rest and ``COMMIT``, else ``ROLLBACK``. Several statements in one query means the
        parameters are bound by the client (:class:`psycopg.ClientCursor`: psycopg's own quoting of each
        value), with the same dumpers and SQLAlchemy bind processors as the statements run one by one."""
        import psycopg

        driver, dialect = self.driver, self.dialect
        cursor = psycopg.ClientCursor(driver)
        shown = "BEGIN"  # what an error names: the statements with their placeholders, never the values
        try:
            def text(items) -> tuple[str, str]:
                sent, templates = [], []
                for statement, params in items:
                    compiled = statement.compile_for(dialect)
                    sent.append(cursor.mogrify(compiled.sql, compiled.arguments(params)))
                    templates.append(compiled.sql)
                return "; ".join(sent), "; ".join(templates)

            def run(*parts: tuple[str, str]) -> None:
                nonlocal shown
                shown = "; ".join(template for _, template in parts if template)
                cursor.execute("; ".join(sent for sent, _ in parts if sent))

            def counts(first_is_begin: bool) -> list[int]:  # the rows each of ``rest`` matched
                if first_is_begin:
                    cursor.nextset()
                found = [cursor.rowcount]
                for _ in range(len(rest) - 1):
                    cursor.nextset()
                    found.append(cursor.rowcount)
                return found if rest else []

            begin, commit = ("BEGIN", "BEGIN"), ("COMMIT", "COMMIT")
            if checked:
                run(begin, text(checked))
                for index in range(len(checked)):
                    cursor.nextset()
                    if cursor.rowcount != 1:
                        run(("ROLLBACK", "ROLLBACK"))
                        raise LostRace(index)
                run(text(rest) if rest else ("", ""), commit)
                return counts(first_is_begin=False)
            run(begin, text(rest), commit)
            return counts(first_is_begin=True)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, driver, cursor)
            if not lost:
                try:
                    driver.execute("ROLLBACK")  # the transaction a failed statement left aborted
                except dialect.loaded_dbapi.Error:
                    lost = True
            if lost:
                self.invalidate()
            raise database_error(shown, exc, dialect, invalidated=lost) from exc
        finally:
            cursor.close()
            if self.driver is not None and self.in_transaction():
                try:  # anything else interrupted us between BEGIN and the end: nothing of it may stay open
                    driver.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the connection is of no further use
                    self.invalidate()


_FAILED = object()


class LostRace(Exception):
    """One of a transaction's checked statements matched no row (see :meth:`KeptConnection.transaction`):
    nothing was written. ``index``: which one."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index
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


@contextmanager
def writers_turn(database: str | None):
    """One writer of a SQLite file at a time, waiting its turn without sleeping, around a write transaction.

    SQLite lets one connection write at a time; the others are refused and retry after sleeps of 1, 2,
    5, 10 … 100 ms, however soon the writer finishes (SQLite's busy handler). Under load those sleeps,
    not the work, made the token endpoint's slowest answers. Writers of the same database queue here
    instead: threads of this process on a lock, processes (gunicorn workers, instances on one file) on
    ``flock`` of a file beside the database, and each wakes as soon as the one before commits."""
    with _gate_lock:
        descriptor = _gate_file(database)
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_UN)


_gate_lock = threading.Lock()
_gate_files: dict = {}  # (process id, database file) → descriptor of its writers' lock file, open for good


def _gate_file(database: str | None) -> int | None:
    """This process's descriptor of the lock file beside ``database``; None for a database in memory or a
    folder the provider cannot write to (then writers are queued within the process only)."""
    if not sqlite_file(database):
        return None
    key = (_pid, database)  # a worker forked from a master opens its own (flock is per open file)
    if key not in _gate_files:
        try:
            _gate_files[key] = os.open(database + "-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            _gate_files[key] = None
    return _gate_files[key]
