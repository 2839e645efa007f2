"""The hot paths' SQL, run straight on the DBAPI cursor.

SQLAlchemy's Core execution (execution context, result machinery) costs more than a whole indexed lookup
or one-row write in SQLite, and as much as the round trip on PostgreSQL. A :class:`Statement` is a Core
statement compiled by SQLAlchemy once per dialect and run on the DBAPI connection with SQLAlchemy's own
bind and result processors of each column's type (``DateTime`` to and from SQLite's text, ``Boolean``,
``JSON`` …): the values written and the rows read are the ones ``connection.execute(statement)`` would
write and return. Database errors are raised as SQLAlchemy's exceptions (``IntegrityError`` …), as they
would be through SQLAlchemy.

Where a statement runs:

* by default on the DBAPI connection of the ORM session's transaction: what it writes is committed or
  rolled back with everything else the request did (``db.session.commit()``/``rollback()``), and what it
  reads sees the transaction's own writes;
* inside :func:`read_only` (endpoints that write nothing: UserInfo, introspection) on a connection of
  its own in autocommit mode: no BEGIN and no COMMIT (on PostgreSQL one round trip per lookup instead of
  three), no ORM session at all: one kept beside the pool (:mod:`idp.oidc.autocommit`), on PostgreSQL in
  autocommit mode, where a lookup is libpq's own prepared-statement call;
* inside :func:`reads_apart` (the token endpoint): the lookups as in :func:`read_only`, and the request's
  writes, once it succeeded, in one transaction on that same connection (:func:`transaction`: on
  PostgreSQL one or two round trips for all of them, on SQLite straight on the DBAPI connection, without
  the ORM session's transaction machinery); other writes stay with the session.

On PostgreSQL the statements that go through psycopg (every write, and the lookups in the session's
transaction) run on one psycopg cursor kept with each connection rather than a new cursor per statement
(:func:`_kept_cursor`); psycopg prepares a statement run often on a connection by itself (its
``prepare_threshold``).
"""
from __future__ import annotations

import fcntl
import json as json_module
import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import JSON, Text, cast
from sqlalchemy import exc as sa_exc

from idp.extensions import db
from idp.oidc import autocommit

#: The connection of :func:`read_only` and :func:`reads_apart` (a :class:`_Reader`); None outside.
_reader: ContextVar["_Reader | None"] = ContextVar("idp_oidc_reader", default=None)


class Statement:
    """A Core statement compiled once per dialect, run on the DBAPI cursor (see the module's documentation).

    ``column_keys``: for an INSERT, the columns every call gives (the others get their defaults)."""

    def __init__(self, statement, *, column_keys: tuple[str, ...] | None = None):
        self.statement = statement
        self.column_keys = column_keys
        self._compiled: dict = {}

    def _for(self, dialect) -> tuple:
        key = (type(dialect), dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            statement, processors = self.statement, ()
            if getattr(statement, "is_select", False):
                statement, processors = _json_as_text(statement, dialect)
            sql = statement.compile(dialect=dialect, column_keys=self.column_keys)
            names = tuple(sql.positiontup) if dialect.positional else None
            binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                     for name, bind in sql.binds.items()}
            results = tuple((i, f, json) for i, (f, json) in enumerate(processors) if f is not None)
            compiled = self._compiled[key] = (sql.string, names, {k: f for k, f in binds.items() if f}, results)
        return compiled

    def first(self, params: dict, *, lazy: bool = False) -> tuple | None:
        """The first row the statement returns for ``params``, or None. ``lazy``: a JSON value the driver
        returned as text is left as a :class:`Pending` to decode when read (:class:`LazyColumn`)."""
        engine = db.engine
        compiled = self._for(engine.dialect)
        row = _execute(engine, compiled, params, fetch=True)
        if row is None:
            return None
        processed = compiled[3]
        if processed:
            row = list(row)
            for i, process, json in processed:
                if row[i] is not None:
                    row[i] = Pending(process, row[i]) if lazy and json else process(row[i])
        return tuple(row)

    def run(self, params: dict) -> int:
        """Execute a write; the number of rows it matched."""
        engine = db.engine
        return _execute(engine, self._for(engine.dialect), params, fetch=False)


def _json_as_text(statement, dialect) -> tuple:
    """The select to run, and each selected column's (result processor, is JSON).

    A driver that decodes JSON itself (psycopg) would decode every JSON column of every row it returns,
    read or not (a client's four lists, twice in an introspection lookup). Those columns are selected as
    text instead and decoded as SQLAlchemy's JSON type decodes text (the dialect's JSON deserializer,
    ``json.loads`` by default), lazily like SQLite's (see :class:`LazyColumn`): the same values, decoded
    only when read."""
    columns, processors, changed = [], [], False
    for column in statement.selected_columns:
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        json = isinstance(column.type, JSON)
        if json and process is None:
            column, process, changed = cast(column, Text), _json_decoder(dialect), True
        columns.append(column)
        processors.append((process, json))
    if changed:
        statement = statement.with_only_columns(*columns, maintain_column_froms=False)
    return statement, tuple(processors)


def _json_decoder(dialect):
    deserialize = getattr(dialect, "_json_deserializer", None) or json_module.loads

    def process(value):
        return None if value is None else deserialize(value)

    return process


class Pending:
    """A column value not decoded yet: ``process(raw)`` when first read."""

    __slots__ = ("process", "raw")

    def __init__(self, process, raw):
        self.process, self.raw = process, raw


class LazyColumn:
    """A record's attribute holding a :class:`Pending` value until it is first read (then the value)."""

    def __init__(self, key: str):
        self.key = key

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.key]
        if type(value) is Pending:
            value = obj.__dict__[self.key] = value.process(value.raw)
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.key] = value


def _arguments(compiled: tuple, params: dict):
    """The DBAPI parameters of a compiled statement (:meth:`Statement._for`) for ``params``."""
    _, names, binds, _ = compiled
    if binds:
        params = {k: (binds[k](v) if k in binds else v) for k, v in params.items()}
    return tuple(params[name] for name in names) if names is not None else params


class _Reader:
    """The connection of :func:`read_only` or :func:`reads_apart`, outside any transaction, taken at the
    first statement: one kept beside the pool (:mod:`idp.oidc.autocommit`; on PostgreSQL in autocommit
    mode), or for a SQLite database in memory the pool's own. ``writes``: whether writes
    (:meth:`Statement.run`) go there too."""

    __slots__ = ("writes", "connection")

    def __init__(self, *, writes: bool):
        self.writes, self.connection = writes, None

    def take(self, engine):
        if self.connection is None:
            if _sqlite_in_memory(engine):
                self.connection = engine.raw_connection()  # the pool's connection is the database
            else:
                self.connection = autocommit.take(engine)
        return self.connection

    def give_back(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        if isinstance(connection, autocommit.KeptConnection):
            autocommit.give_back(connection)  # a spare again
        else:
            connection.close()  # back to the pool


def _execute(engine, compiled: tuple, params: dict, *, fetch: bool):
    dialect = engine.dialect
    sql = compiled[0]
    arguments = _arguments(compiled, params)
    reader = _reader.get()
    apart = reader is not None and (fetch or reader.writes)
    if apart:
        connection = reader.take(engine)
        if fetch and type(connection) is autocommit.AutocommitConnection:
            row = connection.first(sql, arguments)
            if row is not autocommit.FAILED:
                return row  # else the cursor runs it again, and raises what went wrong
    else:
        connection = db.session.connection().connection  # the DBAPI connection of the session's transaction
    reuse = dialect.name != "sqlite"
    cursor = None
    try:  # making the cursor may fail too (psycopg refuses a connection it knows is lost)
        cursor = _kept_cursor(connection) if reuse else connection.cursor()
        cursor.execute(sql, arguments)
        return cursor.fetchone() if fetch else cursor.rowcount
    except dialect.loaded_dbapi.Error as exc:
        if reuse:
            connection.info.pop(_CURSOR, None)  # a fresh one next time
            reuse = False
        disconnected = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
        if apart and disconnected:
            connection.invalidate(exc)  # never back into the pool (the session's own is SQLAlchemy's to handle)
        raise sa_exc.DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                         connection_invalidated=apart and disconnected,
                                         dialect=dialect) from exc
    finally:
        if not reuse and cursor is not None:
            cursor.close()


#: Key of a connection's kept cursor in its ``info`` (a pool record's, or an autocommit connection's).
_CURSOR = "idp_oidc_cursor"


def _kept_cursor(connection):
    """The cursor kept with a DBAPI connection for the statements here (PostgreSQL).

    Making and closing a psycopg cursor for every statement cost about as much as a fifth of the lookup
    (its adapters map, its state) and made nothing different: psycopg fetches a result whole, so a cursor
    holds nothing on the server between statements, and its next ``execute`` replaces what it kept. A
    pool record's ``info`` lives as long as the DBAPI connection (an autocommit connection's is its own);
    the cursor is kept with the connection it belongs to (checked by identity: a connection replaced
    after an invalidation gets its own) and dropped after an error. SQLite's cursors are cheap, and one
    left unclosed would keep its statement, and the read snapshot, open: they are made and closed every
    time."""
    dbapi_connection = connection.dbapi_connection
    kept = connection.info.get(_CURSOR)
    if kept is None or kept[0] is not dbapi_connection or kept[1].closed:
        kept = connection.info[_CURSOR] = (dbapi_connection, dbapi_connection.cursor())
    return kept[1]


def read_only() -> "_Apart":
    """Run the statements of a request that writes nothing on a connection of their own, in
    autocommit mode (no BEGIN, no COMMIT), taken at the first statement and given back at the end."""
    return _Apart(writes=True)


@contextmanager
def reads_apart():
    """The token endpoint's connection: its lookups (:meth:`Statement.first`) run on a connection of their
    own outside any transaction, as in :func:`read_only`, and :func:`transaction` writes there what
    the request issues; writes made otherwise (:meth:`Statement.run`, the ORM session) stay on the
    session's transaction, as outside. A SQLite database in memory (one connection per thread, shared
    with the session) is left as it is: nothing changes there.

    Why: on PostgreSQL a ``client_credentials`` grant was five round trips (BEGIN, the client's lookup,
    the token's INSERT, the audit event's INSERT, COMMIT), and each costs the provider about as much CPU
    as one (~80 µs of psycopg and the kernel on the development machine, ``bench/profile_endpoints.py``)
    whatever it carries. On SQLite the ORM session's transaction (taking its connection, the commit's
    state machine) cost about as much as the lookup and the writes together. Reads outside a transaction
    see what they would inside one: PostgreSQL's READ COMMITTED takes a fresh snapshot for every
    statement anyway, SQLite's autocommit reads see every committed write, and spending a code or
    refresh token stays a conditional UPDATE inside the writing transaction."""
    if _sqlite_in_memory(db.engine):
        yield
        return
    with _Apart(writes=False):
        yield


def _sqlite_in_memory(engine) -> bool:
    """Whether ``engine`` is a SQLite database in memory: its pool's connection is the database."""
    return engine.dialect.name == "sqlite" and not _sqlite_file(engine.url.database)


def _sqlite_file(database: str | None) -> bool:
    """Whether a SQLite URL's database is a file (each connection its own), not memory."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


class _Apart:
    """A :class:`_Reader` for the block, its connection given back at the end (a class rather than a
    generator-based context manager: entered in every UserInfo, introspection and token request, it costs a
    third as much)."""

    __slots__ = ("reader", "reset")

    def __init__(self, *, writes: bool):
        self.reader = _Reader(writes=writes)

    def __enter__(self) -> None:
        self.reset = _reader.set(self.reader)

    def __exit__(self, *exc_info) -> None:
        _reader.reset(self.reset)
        self.reader.give_back()


def can_batch() -> bool:
    """Whether :func:`transaction` may write now: inside :func:`reads_apart`, with the ORM session's
    transaction not begun (else the writes belong with it, to commit or roll back together)."""
    reader = _reader.get()
    return reader is not None and not reader.writes and not session_began()


def session_began() -> bool:
    """Whether the request's ORM session has a transaction, without making a session to ask it."""
    registry = db.session.registry
    return registry.has() and registry().in_transaction()


def transaction(checked: list[tuple[Statement, dict]], rest: list[tuple[Statement, dict]]) -> int | None:
    """Run write statements as one transaction on :func:`reads_apart`'s connection (see :func:`can_batch`).

    ``checked``: statements that must match exactly one row each (a code or refresh token spent by a
    conditional UPDATE), run first; ``rest``: the others (INSERTs). Returns the index in ``checked`` of
    the first statement that did not match (nothing is written), or None (committed). A database error
    rolls back what was sent (or drops a broken connection) and is raised as SQLAlchemy's exception,
    naming the statements but none of the values.

    PostgreSQL: without ``checked`` the whole transaction is one round trip (``BEGIN; …; COMMIT`` in one
    simple query); with them, two: ``BEGIN`` and the checked statements, then, if each matched one row,
    the rest and ``COMMIT``, else ``ROLLBACK``. Several statements in one query means the parameters are
    bound by the client (:class:`psycopg.ClientCursor`: psycopg's own quoting of each value, by the
    connection's encoding and ``standard_conforming_strings``), with the same dumpers and SQLAlchemy bind
    processors as the statements run one by one.

    SQLite: the statements one by one on the DBAPI connection (pysqlite begins the transaction before the
    first), then its ``commit()``; the caller holds the writers' turn (:func:`writing`)."""
    engine = db.engine
    dialect = engine.dialect
    connection = _reader.get().take(engine)
    if dialect.name == "sqlite":
        return _sqlite_transaction(connection, dialect, checked, rest)
    import psycopg

    driver = connection.driver_connection
    cursor = psycopg.ClientCursor(driver)
    shown = "BEGIN"  # what an error names: the statements with their placeholders, never the values
    try:
        def text(items) -> tuple[str, str]:
            sent, templates = [], []
            for statement, params in items:
                compiled = statement._for(dialect)
                sent.append(cursor.mogrify(compiled[0], _arguments(compiled, params)))
                templates.append(compiled[0])
            return "; ".join(sent), "; ".join(templates)

        def run(*parts: tuple[str, str]) -> None:
            nonlocal shown
            shown = "; ".join(template for _, template in parts if template)
            cursor.execute("; ".join(sent for sent, _ in parts if sent))

        begin, commit = ("BEGIN", "BEGIN"), ("COMMIT", "COMMIT")
        if checked:
            run(begin, text(checked))
            for index in range(len(checked)):
                cursor.nextset()
                if cursor.rowcount != 1:
                    run(("ROLLBACK", "ROLLBACK"))
                    return index
            run(text(rest) if rest else ("", ""), commit)
        else:
            run(begin, text(rest), commit)
        return None
    except dialect.loaded_dbapi.Error as exc:
        disconnected = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
        if not disconnected:
            try:
                driver.execute("ROLLBACK")  # the transaction a failed statement left aborted
            except dialect.loaded_dbapi.Error:
                disconnected = True
        if disconnected:
            connection.invalidate(exc)
        raise sa_exc.DBAPIError.instance(shown, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                         connection_invalidated=disconnected, dialect=dialect) from exc
    finally:
        cursor.close()
        if connection.dbapi_connection is not None \
                and driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:  # anything else interrupted us between BEGIN and the end: nothing of it may stay open
                driver.execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - the connection is of no further use
                connection.invalidate()


def _sqlite_transaction(connection, dialect, checked, rest) -> int | None:
    """:func:`transaction` on SQLite's DBAPI connection ``connection`` (one kept beside the pool)."""
    driver = connection.driver_connection
    cursor = driver.cursor()
    sql = "BEGIN"  # what an error names: the statement with its placeholders, never the values
    try:
        for index, (statement, params) in enumerate([*checked, *rest]):
            compiled = statement._for(dialect)
            sql = compiled[0]
            cursor.execute(sql, _arguments(compiled, params))
            if index < len(checked) and cursor.rowcount != 1:
                driver.rollback()
                return index
        sql = "COMMIT"
        driver.commit()
        return None
    except dialect.loaded_dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                         dialect=dialect) from exc
    finally:
        cursor.close()
        if driver.in_transaction:  # an error, or anything else that interrupted us: nothing may stay open
            driver.rollback()


@contextmanager
def writing():
    """One writer at a time, waiting its turn without sleeping, around a write transaction's statements
    and its commit (the token endpoint's :func:`idp.oidc.tokens.run_deferred`).

    SQLite lets one connection write at a time; the others are refused and retry after sleeps of 1, 2,
    5, 10 … 100 ms, however soon the writer finishes (SQLite's busy handler). Under load those sleeps,
    not the work, made the token endpoint's slowest answers. Writers of the same database queue here
    instead: threads of this process on a lock, processes (gunicorn workers, instances on one file) on
    ``flock`` of a file beside the database, and each wakes as soon as the one before commits. PostgreSQL
    locks rows, not the database: nothing to queue for."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        yield
        return
    with _gate_lock:
        descriptor = _gate_file(engine.url.database)
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
    if not _sqlite_file(database):
        return None
    key = (os.getpid(), database)  # a worker forked from a master opens its own (flock is per open file)
    if key not in _gate_files:
        try:
            _gate_files[key] = os.open(database + "-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            _gate_files[key] = None
    return _gate_files[key]
