"""Read-only records for the protocol endpoints' hot paths: a client, a code, a token (with its client and
customer) or an account, each loaded by one Core query instead of as an ORM entity.

The token, UserInfo, introspection and revocation endpoints look these up on every request and never
change them through the ORM (their writes are table-level statements, see :mod:`idp.oidc.tokens`).
Loading entities costs more than the rest of such a request: instance state and the identity map on
load, the expiry of every loaded object at commit. A record is the row itself, and behaves like the
entity it stands for:

* every mapped column is an attribute of the same name (the list comes from the mapper, so a column
  added to a model is loaded too);
* the model's own methods and properties (``active``, ``check_grant_type``, ``client_metadata``,
  ``get_nonce`` …) are the model's functions, borrowed, not copies: a rule changed in a model applies to
  its record; Authlib's mixins (``ClientMixin``, ``AuthorizationCodeMixin``) are its bases, as they are
  the model's;
* anything else (a relationship, or something a model gains later) is answered by the ORM entity, loaded
  on first use: slower, never different.

A record is a snapshot of its row in the request's transaction, as a loaded entity is; nothing is
cached across requests (a disabled client or account, a revoked token is seen by the next request).

Endpoints that write nothing (UserInfo, introspection) run their lookups inside :func:`read_only`: on a
pooled connection of their own in autocommit mode, without the ORM session and its transaction (on
PostgreSQL that is one round trip per lookup instead of BEGIN, lookup and COMMIT).
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from types import FunctionType

from sqlalchemy import bindparam, inspect, select

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken


class Record:
    """A row of ``_model``'s table as an object; see the module's documentation."""

    _model: type
    _keys: tuple[str, ...] = ()

    def __init__(self, values):
        self.__dict__.update(zip(self._keys, values))

    def __getattr__(self, name: str):
        # Only reached for names the record lacks: the ORM entity answers (loaded once, in this transaction).
        if name.startswith("__") or name == "_entity":
            raise AttributeError(name)
        entity = self.__dict__.get("_entity")
        if entity is None:
            entity = self.__dict__["_entity"] = db.session.get(self._model, self.__dict__["id"])
        return getattr(entity, name)


def _record_class(model: type) -> type:
    mapper = inspect(model)
    namespace: dict = {"_model": model, "_keys": tuple(attr.key for attr in mapper.column_attrs),
                       "__module__": __name__, "__doc__": f"A row of {model.__tablename__} (see {model.__name__})."}
    # The provider's own behaviour of the model (its classes, base first, so a subclass's version wins).
    for cls in reversed(model.__mro__):
        if not cls.__module__.startswith("idp.") or cls is db.Model:
            continue
        for name, value in vars(cls).items():
            if (name.startswith("_") and name != "__repr__") or not isinstance(value, (FunctionType, property)):
                continue  # SQLAlchemy's machinery, mapped attributes, class data
            namespace[name] = value
    mixins = tuple(base for base in model.__bases__ if base.__module__.startswith("authlib."))
    return type(model.__name__ + "Record", (Record, *mixins), namespace)


ClientRecord = _record_class(OAuthClient)
AccountRecord = _record_class(Account)
CodeRecord = _record_class(AuthorizationCode)
TokenRecord = _record_class(OAuthToken)


def _columns(model: type) -> list:
    return [attr.columns[0] for attr in inspect(model).column_attrs]


class Lookup:
    """A Core SELECT of one row, compiled once per dialect and run straight on the DBAPI connection.

    SQLAlchemy's Core execution (execution context, result machinery) costs more than a whole indexed
    lookup in SQLite; this runs the SQL SQLAlchemy compiled, with SQLAlchemy's own bind and result
    processors of each column's type (``DateTime`` from SQLite's text, ``Boolean``, ``JSON`` …), so the row
    is what ``connection.execute(statement).first()`` would return, as a tuple.
    """

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict = {}

    def _for(self, dialect) -> tuple:
        key = (type(dialect), dialect.paramstyle)
        compiled = self._compiled.get(key)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect)
            names = tuple(sql.positiontup) if dialect.positional else None
            binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                     for name, bind in sql.binds.items()}
            results = (column.type.dialect_impl(dialect).result_processor(dialect, None)
                       for column in self.statement.selected_columns)
            compiled = self._compiled[key] = (sql.string, names, {k: f for k, f in binds.items() if f},
                                              tuple((i, f) for i, f in enumerate(results) if f is not None))
        return compiled

    def first(self, connection, dialect, params: dict) -> tuple | None:
        """The first row for ``params`` on ``connection`` (a DBAPI connection, or SQLAlchemy's proxy)."""
        sql, names, binds, processed = self._for(dialect)
        if binds:
            params = {k: (binds[k](v) if k in binds else v) for k, v in params.items()}
        cursor = connection.cursor()
        try:
            cursor.execute(sql, tuple(params[name] for name in names) if names is not None else params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        if processed:
            row = list(row)
            for i, process in processed:
                if row[i] is not None:
                    row[i] = process(row[i])
        return tuple(row)


_CLIENT = _columns(OAuthClient)
_ACCOUNT = _columns(Account)
_TOKEN = _columns(OAuthToken)
_clients, _accounts, _tokens = OAuthClient.__table__, Account.__table__, OAuthToken.__table__

# The lookups, built once (building and cache-keying a statement costs more than running it).
_CLIENT_BY_CLIENT_ID = Lookup(select(*_CLIENT).where(_clients.c.client_id == bindparam("client_id")))
_ACCOUNT_BY_ID = Lookup(select(*_ACCOUNT).where(_accounts.c.id == bindparam("id")))
_CODE_BY_HASH = Lookup(select(*_columns(AuthorizationCode)).where(AuthorizationCode.__table__.c.code_hash
                                                                   == bindparam("hash")))
# A token with its client and its customer (none for client_credentials), in one indexed lookup.
_TOKEN_JOINED = (select(*_TOKEN, *_CLIENT, *_ACCOUNT)
                 .select_from(_tokens.outerjoin(_clients, _tokens.c.client_pk == _clients.c.id)
                              .outerjoin(_accounts, _tokens.c.account_id == _accounts.c.id)))
_TOKEN_BY_ACCESS_HASH = Lookup(_TOKEN_JOINED.where(_tokens.c.access_token_hash == bindparam("hash")))
_TOKEN_BY_REFRESH_HASH = Lookup(_TOKEN_JOINED.where(_tokens.c.refresh_token_hash == bindparam("hash")))
_T, _C = len(_TOKEN), len(_TOKEN) + len(_CLIENT)

#: The read-only request's connection (see :func:`read_only`): a list holding it once taken; None outside.
_reader: ContextVar[list | None] = ContextVar("idp_oidc_reader", default=None)


@contextmanager
def read_only():
    """Run the lookups of a request that writes nothing on a pooled connection of their own, in
    autocommit mode (no BEGIN, no COMMIT), taken at the first lookup and given back at the end."""
    holder: list = []
    reset = _reader.set(holder)
    try:
        yield
    finally:
        _reader.reset(reset)
        if holder:
            connection, restore = holder
            try:
                if restore is not None:
                    connection.driver_connection.autocommit = restore
            finally:
                connection.close()  # back to the pool


def _first(lookup: Lookup, params: dict) -> tuple | None:
    """``lookup``'s row: on the read-only request's own connection, else on the connection of the ORM
    session's transaction (whatever this transaction wrote is seen)."""
    engine = db.engine
    holder = _reader.get()
    if holder is None:
        connection = db.session.connection().connection  # the DBAPI connection of the session's transaction
    elif holder:
        connection = holder[0]
    else:
        connection = engine.raw_connection()
        restore = None
        if engine.dialect.name != "sqlite":  # pysqlite begins no transaction for a SELECT
            driver = connection.driver_connection
            restore, driver.autocommit = driver.autocommit, True
        holder[:] = [connection, restore]
    try:
        return lookup.first(connection, engine.dialect, params)
    except engine.dialect.loaded_dbapi.Error as exc:
        if holder and engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):
            connection.invalidate(exc)  # never back into the pool (the session's own is SQLAlchemy's to handle)
        raise


def find_client(client_id: str | None) -> ClientRecord | None:
    """The client with this ``client_id``, enabled or not (see :func:`idp.clients.find_client`)."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None  # PostgreSQL refuses NUL in text: never let one reach the query
    row = _first(_CLIENT_BY_CLIENT_ID, {"client_id": client_id})
    return ClientRecord(row) if row is not None else None


def find_active_client(client_id: str | None) -> ClientRecord | None:
    """The client if it exists and is not disabled: what the protocol endpoints may talk to."""
    client = find_client(client_id)
    return client if client is not None and client.active else None


def find_account(account_id: int) -> AccountRecord | None:
    row = _first(_ACCOUNT_BY_ID, {"id": account_id})
    return AccountRecord(row) if row is not None else None


def find_code(code_hash: str) -> CodeRecord | None:
    row = _first(_CODE_BY_HASH, {"hash": code_hash})
    return CodeRecord(row) if row is not None else None


def find_token(token_hash: str, *, refresh: bool) -> TokenRecord | None:
    """The token row whose access (or refresh) token hashes to ``token_hash``; its ``client`` and
    ``account`` (None for a machine's token) are records too."""
    row = _first(_TOKEN_BY_REFRESH_HASH if refresh else _TOKEN_BY_ACCESS_HASH, {"hash": token_hash})
    if row is None:
        return None
    token = TokenRecord(row[:_T])
    client, account = row[_T:_C], row[_C:]
    token.client = ClientRecord(client) if client[0] is not None else None
    token.account = AccountRecord(account) if account[0] is not None else None
    return token
