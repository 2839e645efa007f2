"""Statements compiled once and run straight on a DBAPI connection.

SQLAlchemy's Core execution (execution context, result machinery) costs more than a whole indexed lookup
or one-row write in SQLite, and as much as the round trip on PostgreSQL. A :class:`Statement` is a Core
statement compiled by SQLAlchemy once per dialect and run on a DBAPI connection with SQLAlchemy's own
bind and result processors of each column's type (``DateTime`` to and from SQLite's text, ``Boolean``,
``JSON`` …): the values written and the rows read are the ones ``connection.execute(statement)`` would
write and return. Database errors are raised as SQLAlchemy's exceptions (``IntegrityError`` …), naming the
statement but none of its values.

Which connection a statement runs on is always an argument (:mod:`idp.oidc.store.connections`); nothing
here keeps state between requests but the compiled statements.
"""
from __future__ import annotations

import json

from sqlalchemy import JSON, Text, cast
from sqlalchemy import exc as sa_exc


class Statement:
    """A Core statement compiled once per dialect (see the module's documentation).

    ``column_keys``: for an INSERT, the columns every call gives (the others get their defaults)."""

    def __init__(self, statement, *, column_keys: tuple[str, ...] | None = None):
        self.statement = statement
        self.column_keys = column_keys
        self.compiled: dict = {}

    def compile_for(self, dialect) -> "Compiled":
        key = (type(dialect), dialect.paramstyle)
        compiled = self.compiled.get(key)
        if compiled is None:
            compiled = self.compiled[key] = Compiled(self.statement, dialect, self.column_keys)
        return compiled


class Compiled:
    """A statement's SQL for one dialect, its parameter order, bind processors and result processors."""

    __slots__ = ("sql", "names", "binds", "defaults", "results")

    def __init__(self, statement, dialect, column_keys):
        processors = ()
        if getattr(statement, "is_select", False):
            statement, processors = _json_as_text(statement, dialect)
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql: str = compiled.string
        self.names = tuple(compiled.positiontup) if dialect.positional else None
        binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                 for name, bind in compiled.binds.items()}
        self.binds = {name: process for name, process in binds.items() if process}
        # Values written into the statement itself (``Policy.state == ATTACHED``), sent with every call.
        self.defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        self.results = tuple((i, process, is_json) for i, (process, is_json) in enumerate(processors)
                             if process is not None)

    def arguments(self, params: dict):
        """The DBAPI parameters for ``params``."""
        if self.defaults:
            params = {**self.defaults, **params}
        binds = self.binds
        if binds:
            params = {k: (binds[k](v) if k in binds else v) for k, v in params.items()}
        return tuple(params[name] for name in self.names) if self.names is not None else params

    def row(self, row) -> tuple | None:
        """A DBAPI row as SQLAlchemy would return it (JSON values left :class:`Pending` until read)."""
        if row is None:
            return None
        if self.results:
            row = list(row)
            for i, process, is_json in self.results:
                if row[i] is not None:
                    row[i] = Pending(process, row[i]) if is_json else process(row[i])
        return tuple(row)


def _json_as_text(statement, dialect) -> tuple:
    """The select to run, and each selected column's (result processor, is JSON).

    A driver that decodes JSON itself (psycopg) would decode every JSON column of every row it returns,
    read or not (a client's four lists). Those columns are selected as text instead and decoded with
    ``json.loads`` (what SQLAlchemy's JSON type does without a ``json_deserializer`` of the engine, which the
    provider never sets) when first read (see :class:`LazyColumn`)."""
    columns, processors, changed = [], [], False
    for column in statement.selected_columns:
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        is_json = isinstance(column.type, JSON)
        if is_json and process is None:
            column, process, changed = cast(column, Text), _json_loads, True
        columns.append(column)
        processors.append((process, is_json))
    if changed:
        statement = statement.with_only_columns(*columns, maintain_column_froms=False)
    return statement, tuple(processors)


def _json_loads(value):
    return None if value is None else json.loads(value)


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


def database_error(sql: str, exc: Exception, dialect, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    """A DBAPI error as SQLAlchemy's exception, naming the statement but never its values."""
    return sa_exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                      connection_invalidated=invalidated, dialect=dialect)
