"""Read-only records of the protocol endpoints: a client, a code, a token (with its client and customer) or
an account, each loaded by one prepared query instead of as an ORM entity.

Loading entities costs more than the rest of such a request: instance state and the identity map on load,
the expiry of every loaded object at commit. A record is the row itself, and behaves like the entity it
stands for:

* every mapped column is an attribute of the same name (the list comes from the mapper, so a column added
  to a model is loaded too);
* the model's own methods and properties (``active``, ``check_grant_type``, ``get_allowed_scope`` …) are
  the model's functions, borrowed, not copies: a rule changed in a model applies to its record;
* relationships are not loaded: what a record has beyond its columns (a token's ``client`` and
  ``account``, a code's ``account``) is set by the lookup that fetched it.

Every lookup takes the request's connection (:mod:`idp.oidc.store.connections`) as its first argument.
"""
from __future__ import annotations

from contextvars import ContextVar
from types import FunctionType

from sqlalchemy import JSON, bindparam, inspect, select

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken
from idp.oidc.store.statements import LazyColumn, Statement


class Record:
    """A row of ``model``'s table as an object; see the module's documentation."""

    model: type
    keys: tuple[str, ...] = ()

    def __init__(self, values):
        self.__dict__.update(zip(self.keys, values))


def _record_class(model: type, **extra) -> type:
    mapper = inspect(model)
    namespace: dict = {"model": model, "keys": tuple(attr.key for attr in mapper.column_attrs),
                       "__module__": __name__, "__doc__": f"A row of {model.__tablename__} (see {model.__name__})."}
    # The provider's own behaviour of the model (its classes, base first, so a subclass's version wins).
    for cls in reversed(model.__mro__):
        if not cls.__module__.startswith("idp.") or cls is db.Model:
            continue
        for name, value in vars(cls).items():
            if (name.startswith("_") and name != "__repr__") or not isinstance(value, (FunctionType, property)):
                continue  # SQLAlchemy's machinery, mapped attributes, class data
            namespace[name] = value
    # JSON columns are decoded when first read (a client's lists, when one of them is asked for).
    for attr in mapper.column_attrs:
        if isinstance(attr.columns[0].type, JSON):
            namespace[attr.key] = LazyColumn(attr.key)
    namespace.update(extra)
    return type(model.__name__ + "Record", (Record,), namespace)


#: The client records a request has loaded, in order, while the protocol API watches (it sets a list for the
#: request and resets the variable after it): the first is the client the request concerns (the asking
#: client, or the token's), whose web origins CORS allows (:mod:`idp.oidc.protocol.cors`).
CLIENTS_LOADED: ContextVar[list | None] = ContextVar("idp_clients_loaded", default=None)


def _client_record_init(self, values) -> None:
    self.__dict__.update(zip(self.keys, values))
    loaded = CLIENTS_LOADED.get()
    if loaded is not None:
        loaded.append(self)


ClientRecord = _record_class(OAuthClient, __init__=_client_record_init)
AccountRecord = _record_class(Account)
#: A code's customer (``account``) comes with it from :func:`client_with_code`.
CodeRecord = _record_class(AuthorizationCode, account=None)
#: A token's ``client`` and ``account`` (None for a machine's token) come with it.
TokenRecord = _record_class(OAuthToken, client=None, account=None)


def _columns(model: type) -> list:
    return [attr.columns[0] for attr in inspect(model).column_attrs]


_CLIENT, _ACCOUNT, _TOKEN, _CODE = (_columns(m) for m in (OAuthClient, Account, OAuthToken, AuthorizationCode))
_K, _T, _D = len(_CLIENT), len(_TOKEN), len(_CODE)
_clients, _accounts = OAuthClient.__table__, Account.__table__
_tokens, _codes = OAuthToken.__table__, AuthorizationCode.__table__

# The lookups, built once (building and cache-keying a statement costs more than running it).
_CLIENT_BY_CLIENT_ID = Statement(select(*_CLIENT).where(_clients.c.client_id == bindparam("client_id")))
_ACCOUNT_BY_ID = Statement(select(*_ACCOUNT).where(_accounts.c.id == bindparam("id")))
# A token with its client and its customer (none for client_credentials), in one indexed lookup.
_TOKEN_JOINED = (select(*_TOKEN, *_CLIENT, *_ACCOUNT)
                 .select_from(_tokens.outerjoin(_clients, _tokens.c.client_pk == _clients.c.id)
                              .outerjoin(_accounts, _tokens.c.account_id == _accounts.c.id)))
_TOKEN_BY_HASH = {False: Statement(_TOKEN_JOINED.where(_tokens.c.access_token_hash == bindparam("hash"))),
                  True: Statement(_TOKEN_JOINED.where(_tokens.c.refresh_token_hash == bindparam("hash")))}


# The client asking (introspection, revocation, refresh) and the token it names, in one lookup. The
# token's own client is not joined: it is the asking client (the same row, already selected) or another
# one, which every endpoint refuses by ``client_pk`` alone.
def _client_and(table, hash_column) -> Statement:
    columns = _TOKEN if table is _tokens else _CODE
    owner = table.c.account_id
    return Statement(select(*_CLIENT, *columns, *_ACCOUNT)
                     .select_from(_clients.outerjoin(table, hash_column == bindparam("hash"))
                                  .outerjoin(_accounts, owner == _accounts.c.id))
                     .where(_clients.c.client_id == bindparam("client_id")))


_CLIENT_AND_TOKEN = {False: _client_and(_tokens, _tokens.c.access_token_hash),
                     True: _client_and(_tokens, _tokens.c.refresh_token_hash)}
_CLIENT_AND_CODE = _client_and(_codes, _codes.c.code_hash)


def valid_client_id(client_id) -> bool:
    """Whether ``client_id`` can name a client at all (PostgreSQL refuses NUL in text: never send one)."""
    return isinstance(client_id, str) and 0 < len(client_id) <= 64 and "\x00" not in client_id


def client(connection, client_id: str | None) -> ClientRecord | None:
    """The client with this ``client_id``, enabled or not."""
    if not valid_client_id(client_id):
        return None
    row = connection.first(_CLIENT_BY_CLIENT_ID, {"client_id": client_id})
    return ClientRecord(row) if row is not None else None


def account(connection, account_id: int) -> AccountRecord | None:
    row = connection.first(_ACCOUNT_BY_ID, {"id": account_id})
    return AccountRecord(row) if row is not None else None


def token(connection, token_hash: str, *, refresh: bool) -> TokenRecord | None:
    """The token row whose access (``refresh``: refresh) token hashes to ``token_hash``, with its ``client``
    and ``account`` (None for a machine's token)."""
    row = connection.first(_TOKEN_BY_HASH[refresh], {"hash": token_hash})
    if row is None:
        return None
    found = TokenRecord(row[:_T])
    found.client = ClientRecord(row[_T:_T + _K]) if row[_T] is not None else None
    found.account = _account_of(row[_T + _K:])
    return found


def client_with_token(connection, client_id: str | None, token_hash: str | None, *,
                      refresh: bool) -> tuple[ClientRecord | None, TokenRecord | None]:
    """The client ``client_id`` and, in the same query, the token hashing to ``token_hash`` (None if there
    is none). A token of another client comes without its ``client``; its ``client_pk`` tells."""
    if not valid_client_id(client_id):
        return None, None
    row = connection.first(_CLIENT_AND_TOKEN[refresh], {"client_id": client_id, "hash": token_hash})
    if row is None:
        return None, None
    asking = ClientRecord(row[:_K])
    if token_hash is None or row[_K] is None:
        return asking, None
    found = TokenRecord(row[_K:_K + _T])
    found.client = asking if found.client_pk == asking.id else None
    found.account = _account_of(row[_K + _T:])
    return asking, found


def client_with_code(connection, client_id: str | None,
                     code_hash: str | None) -> tuple[ClientRecord | None, CodeRecord | None]:
    """The client ``client_id`` and, in the same query, the code hashing to ``code_hash`` with its
    customer as ``account`` (None if there is no such code)."""
    if not valid_client_id(client_id):
        return None, None
    row = connection.first(_CLIENT_AND_CODE, {"client_id": client_id, "hash": code_hash})
    if row is None:
        return None, None
    asking = ClientRecord(row[:_K])
    if code_hash is None or row[_K] is None:
        return asking, None
    code = CodeRecord(row[_K:_K + _D])
    code.account = _account_of(row[_K + _D:])
    return asking, code


def _account_of(columns) -> AccountRecord | None:
    return AccountRecord(columns) if columns[0] is not None else None
