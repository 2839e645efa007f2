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

The lookups run on the DBAPI cursor (:mod:`idp.oidc.sql`): in the ORM session's transaction, or on a
connection of their own in autocommit mode inside :func:`idp.oidc.sql.read_only`.
"""
from __future__ import annotations

from contextvars import ContextVar
from types import FunctionType

from sqlalchemy import JSON, bindparam, inspect, select

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken
from idp.oidc.sql import LazyColumn, Statement


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
    # JSON columns are decoded when first read (a client's lists, when its metadata is asked for).
    for attr in mapper.column_attrs:
        if isinstance(attr.columns[0].type, JSON):
            namespace[attr.key] = LazyColumn(attr.key)
    mixins = tuple(base for base in model.__bases__ if base.__module__.startswith("authlib."))
    return type(model.__name__ + "Record", (Record, *mixins), namespace)


ClientRecord = _record_class(OAuthClient)
AccountRecord = _record_class(Account)
CodeRecord = _record_class(AuthorizationCode)
TokenRecord = _record_class(OAuthToken)


def _columns(model: type) -> list:
    return [attr.columns[0] for attr in inspect(model).column_attrs]


_CLIENT = _columns(OAuthClient)
_ACCOUNT = _columns(Account)
_TOKEN = _columns(OAuthToken)
_clients, _accounts, _tokens = OAuthClient.__table__, Account.__table__, OAuthToken.__table__

# The lookups, built once (building and cache-keying a statement costs more than running it).
_CLIENT_BY_CLIENT_ID = Statement(select(*_CLIENT).where(_clients.c.client_id == bindparam("client_id")))
_ACCOUNT_BY_ID = Statement(select(*_ACCOUNT).where(_accounts.c.id == bindparam("id")))
_CODE_BY_HASH = Statement(select(*_columns(AuthorizationCode)).where(AuthorizationCode.__table__.c.code_hash
                                                                      == bindparam("hash")))
# A token with its client and its customer (none for client_credentials), in one indexed lookup.
_TOKEN_JOINED = (select(*_TOKEN, *_CLIENT, *_ACCOUNT)
                 .select_from(_tokens.outerjoin(_clients, _tokens.c.client_pk == _clients.c.id)
                              .outerjoin(_accounts, _tokens.c.account_id == _accounts.c.id)))
_TOKEN_BY_ACCESS_HASH = Statement(_TOKEN_JOINED.where(_tokens.c.access_token_hash == bindparam("hash")))
_TOKEN_BY_REFRESH_HASH = Statement(_TOKEN_JOINED.where(_tokens.c.refresh_token_hash == bindparam("hash")))
_T, _C = len(_TOKEN), len(_TOKEN) + len(_CLIENT)


# The client asking (introspection, revocation) and the token it names, in one lookup (see
# :func:`expecting_token`). The token's own client is not joined: it is the asking client (the same row,
# already selected), or another one, which introspection and revocation refuse by ``client_pk`` alone
# (``check_permission``, ``check_client``) without reading it; it is looked up only if read
# (:class:`_ClientOfToken`).
def _client_and_token(token_hash_column) -> Statement:
    return Statement(
        select(*_CLIENT, *_TOKEN, *_ACCOUNT)
        .select_from(_clients.outerjoin(_tokens, token_hash_column == bindparam("hash"))
                     .outerjoin(_accounts, _tokens.c.account_id == _accounts.c.id))
        .where(_clients.c.client_id == bindparam("client_id")))


_CLIENT_AND_ACCESS = _client_and_token(_tokens.c.access_token_hash)
_CLIENT_AND_REFRESH = _client_and_token(_tokens.c.refresh_token_hash)
_K = len(_CLIENT)
# The client asking (the code exchange) and the code it presents, with the code's customer (see
# :func:`expecting_code`): the code's own client is not joined, as for a token (the asking client is checked
# against ``client_pk``).
_codes = AuthorizationCode.__table__
_CODE = _columns(AuthorizationCode)
_CLIENT_AND_CODE = Statement(
    select(*_CLIENT, *_CODE, *_ACCOUNT)
    .select_from(_clients.outerjoin(_codes, _codes.c.code_hash == bindparam("hash"))
                 .outerjoin(_accounts, _codes.c.account_id == _accounts.c.id))
    .where(_clients.c.client_id == bindparam("client_id")))
_D = len(_CODE)
#: The client with what a request names, by its kind (see :class:`_Expecting`).
_CLIENT_AND = {"access": _CLIENT_AND_ACCESS, "refresh": _CLIENT_AND_REFRESH, "code": _CLIENT_AND_CODE}
_CLIENT_BY_ID = Statement(select(*_CLIENT).where(_clients.c.id == bindparam("id")))


class _ClientOfToken:
    """``token.client`` of a token fetched with a client that is not its own (see :func:`_client_and_token`):
    its client row, looked up by primary key when first read, then kept like any attribute."""

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        row = _CLIENT_BY_ID.first({"id": obj.__dict__["client_pk"]}, lazy=True)
        client = obj.__dict__["client"] = ClientRecord(row) if row is not None else None
        return client


TokenRecord.client = _ClientOfToken()  # a non-data descriptor: a client set on the record wins

#: What a request names (a token or a code), to fetch with its client (see :func:`expecting_token`): its
#: ``kind`` (``access``, ``refresh`` or ``code``), its ``hash``, and once fetched, ``found``; None outside.
_expected: ContextVar[dict | None] = ContextVar("idp_oidc_expected_token", default=None)


class _Expecting:
    """The block expects ``kind`` of value hashing to ``value_hash`` (see :func:`expecting_token`); a class
    rather than a generator-based context manager, which costs three times as much on every request."""

    __slots__ = ("expected", "reset")

    def __init__(self, kind: str, value_hash: str | None):
        self.expected = {"kind": kind, "hash": value_hash} if value_hash else None

    def __enter__(self) -> None:
        self.reset = _expected.set(self.expected)

    def __exit__(self, *exc_info) -> None:
        _expected.reset(self.reset)


def expecting_token(token_hash: str | None, *, refresh: bool):
    """Inside, the first client lookup also fetches the token whose access (``refresh``: refresh) token
    hashes to ``token_hash``, and the lookup of that token that follows takes it from there: one query
    instead of two for an endpoint that authenticates a client and then reads the token it names
    (introspection). The token is as the lookup would have found it: same query, same transaction."""
    return _Expecting("refresh" if refresh else "access", token_hash)


def expecting_code(code_hash: str | None):
    """As :func:`expecting_token`, for the code exchange: the first client lookup inside also fetches the
    code hashing to ``code_hash`` and its customer (``code.account``, for ``authenticate_user``), and the
    lookup of that code that follows takes it from there: one query instead of three."""
    return _Expecting("code", code_hash)


def _take(kind: str, value_hash: str):
    """``(True, what was fetched)`` if the client lookup fetched this ``kind`` of value hashing to
    ``value_hash`` (taken once: a later lookup asks the database again), else ``(False, None)``."""
    expected = _expected.get()
    if expected is None or "found" not in expected or expected["kind"] != kind or expected["hash"] != value_hash:
        return False, None
    _expected.set(None)
    return True, expected["found"]


def find_client(client_id: str | None) -> ClientRecord | None:
    """The client with this ``client_id``, enabled or not (see :func:`idp.clients.find_client`)."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None  # PostgreSQL refuses NUL in text: never let one reach the query
    expected = _expected.get()
    if expected is not None and "found" not in expected:
        code = expected["kind"] == "code"
        row = _CLIENT_AND[expected["kind"]].first({"client_id": client_id, "hash": expected["hash"]}, lazy=True)
        if row is None:
            expected["found"] = None
            return None
        client = ClientRecord(row[:_K])
        expected["found"] = (_code_of(row[_K:_K + _D], row[_K + _D:]) if code
                             else _token_of(row[_K:_K + _T], None, row[_K + _T:], asking=client))
        return client
    row = _CLIENT_BY_CLIENT_ID.first({"client_id": client_id}, lazy=True)
    return ClientRecord(row) if row is not None else None


def find_active_client(client_id: str | None) -> ClientRecord | None:
    """The client if it exists and is not disabled: what the protocol endpoints may talk to."""
    client = find_client(client_id)
    return client if client is not None and client.active else None


def find_account(account_id: int) -> AccountRecord | None:
    row = _ACCOUNT_BY_ID.first({"id": account_id}, lazy=True)
    return AccountRecord(row) if row is not None else None


def find_code(code_hash: str) -> CodeRecord | None:
    """The code whose value hashes to ``code_hash``; fetched with its client (:func:`expecting_code`), it has
    its customer as ``account`` too."""
    taken, code = _take("code", code_hash)
    if taken:
        return code
    row = _CODE_BY_HASH.first({"hash": code_hash}, lazy=True)
    return CodeRecord(row) if row is not None else None


def _code_of(code_row, account) -> CodeRecord | None:
    """The code of a joined row (None if the join found none), its ``account`` the joined customer (None if
    the row has none)."""
    if code_row[0] is None:
        return None
    code = CodeRecord(code_row)
    code.account = AccountRecord(account) if account[0] is not None else None
    return code


def find_token(token_hash: str, *, refresh: bool) -> TokenRecord | None:
    """The token row whose access (or refresh) token hashes to ``token_hash``; its ``client`` and
    ``account`` (None for a machine's token) are records too."""
    taken, token = _take("refresh" if refresh else "access", token_hash)
    if taken:
        return token  # fetched with the client (see expecting_token)
    row = (_TOKEN_BY_REFRESH_HASH if refresh else _TOKEN_BY_ACCESS_HASH).first({"hash": token_hash}, lazy=True)
    return _token_of(row[:_T], row[_T:_C], row[_C:]) if row is not None else None


def _token_of(token_row, client, account, asking: ClientRecord | None = None) -> TokenRecord | None:
    """The token of a joined row (None if the join found none): its ``client`` is the joined client
    columns, or (fetched with ``asking``, no client columns) ``asking`` when it is the token's own client,
    else looked up when read; its ``account`` the joined account columns (None for a machine's token)."""
    if token_row[0] is None:
        return None
    token = TokenRecord(token_row)
    if asking is not None:
        if token.client_pk == asking.id:
            token.client = asking  # the same row, read by the same query
    else:
        token.client = ClientRecord(client) if client[0] is not None else None
    token.account = AccountRecord(account) if account[0] is not None else None
    return token
