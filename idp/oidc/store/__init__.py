"""The protocol endpoints' store: every query and write of the token, UserInfo, introspection and revocation
endpoints (and of the token-guarded APIs' bearer check), behind one narrow interface.

    store = Store(engine, concurrency=4)
    with store.connect() as connection:            # one connection for the request, outside a transaction
        client, token = records.client_with_token(connection, client_id, token_hash, refresh=False)
        ...
        failed = connection.transaction(checked=[spend_code(...)], rest=[insert_token(...), insert_event(...)])

* lookups (:mod:`idp.oidc.store.records`) take the connection and return read-only records;
* writes are ``(statement, parameters)`` pairs made by the functions below and run together, in one short
  transaction, by :meth:`~idp.oidc.store.connections.KeptConnection.transaction`: a spend (a conditional
  UPDATE of a code or refresh token) is *checked* — it must match one row, or nothing is written and the
  caller learns which one lost (a concurrent use won);
* the connection (:mod:`idp.oidc.store.connections`) is kept beside the engine's pool; on PostgreSQL a
  lookup is a prepared statement in one round trip and a transaction one or two round trips.

Nothing here reads Flask's globals: the engine is given to :class:`Store`, the connection to every call.
"""
from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import bindparam, insert, or_, update

from idp.audit import AuditEvent
from idp.clients import OAuthClient
from idp.oidc.models import OAuthToken, AuthorizationCode
from idp.oidc.store import connections, records
from idp.oidc.store.connections import LostRace
from idp.oidc.store.statements import Statement
from idp.policies.claims import ELIGIBLE, as_claims

__all__ = ["LostRace", "Store", "records", "spend_code", "spend_refresh", "insert_token", "insert_event",
           "revoke_grant", "revoke_access", "revoke_from_code", "replace_secret_hash", "policies",
           "TOKEN_FIELDS", "PING_AFTER_IDLE"]

PING_AFTER_IDLE = connections.PING_AFTER_IDLE


class Store:
    """The database of the protocol endpoints: ``engine`` is the application's SQLAlchemy engine.

    At most ``concurrency`` connections are in use at once in a process (``IDP_PROTOCOL_CONCURRENCY``); a
    request past them waits its turn. A worker's threads are many (``gunicorn.conf.py`` sizes them for sign-in
    attempts waiting for a password check, :mod:`idp.passwords.admission`), and protocol requests are CPU-bound
    under one GIL: more at once would add connections (and SQLite page caches), not throughput. The turn is
    taken with the connection, after the request's body has been read, so a client sending its body slowly
    holds no turn."""

    def __init__(self, engine, *, concurrency: int):
        self.engine = engine
        self.turns = threading.BoundedSemaphore(concurrency)

    def connect(self) -> "_Connected":
        """``with store.connect() as connection``: a connection for one request, given back at the end."""
        return _Connected(self.engine, self.turns)


class _Connected:
    """The context manager of :meth:`Store.connect` (a class: entered on every protocol request, it costs a
    third of a generator-based one)."""

    __slots__ = ("engine", "turns", "connection")

    def __init__(self, engine, turns):
        self.engine = engine
        self.turns = turns

    def __enter__(self) -> connections.KeptConnection:
        self.turns.acquire()
        try:
            self.connection = connections.take(self.engine)
        except BaseException:
            self.turns.release()
            raise
        return self.connection

    def __exit__(self, *exc_info) -> None:
        try:
            connections.give_back(self.connection)
        finally:
            self.turns.release()


# -- writes: (statement, parameters) pairs for KeptConnection.transaction --------------------------------

_tokens, _codes = OAuthToken.__table__, AuthorizationCode.__table__

#: The columns :func:`insert_token` is given (the others, the revocation marks, start empty).
TOKEN_FIELDS = ("access_token_hash", "refresh_token_hash", "client_pk", "account_id", "scope", "grant_type",
                "family_id", "code_id", "issued_at", "access_expires_at", "refresh_expires_at", "auth_time",
                "amr", "sid", "resource")
_EVENT_FIELDS = ("at", "event", "account_id", "client_id", "ip", "user_agent", "details")

_SPEND_CODE = Statement(update(_codes).where(_codes.c.id == bindparam("row_id"), _codes.c.used_at.is_(None))
                        .values(used_at=bindparam("now")))
_SPEND_REFRESH = Statement(update(_tokens).where(_tokens.c.id == bindparam("row_id"),
                                                 _tokens.c.refresh_used_at.is_(None), _tokens.c.revoked_at.is_(None))
                           .values(refresh_used_at=bindparam("now")))
_INSERT_TOKEN = Statement(insert(_tokens), column_keys=TOKEN_FIELDS)
_INSERT_EVENT = Statement(insert(AuditEvent.__table__), column_keys=_EVENT_FIELDS)
_REVOKE_ROW = Statement(update(_tokens).where(_tokens.c.id == bindparam("row_id"), _tokens.c.revoked_at.is_(None))
                        .values(revoked_at=bindparam("now")))
_REVOKE_FAMILY = Statement(update(_tokens).where(or_(_tokens.c.id == bindparam("row_id"),
                                                     _tokens.c.family_id == bindparam("family_id")),
                                                 _tokens.c.revoked_at.is_(None))
                           .values(revoked_at=bindparam("now")))
_REVOKE_FROM_CODE = Statement(update(_tokens).where(_tokens.c.code_id == bindparam("code_id"),
                                                    _tokens.c.revoked_at.is_(None))
                              .values(revoked_at=bindparam("now")))
_REVOKE_ACCESS = Statement(update(_tokens).where(_tokens.c.id == bindparam("row_id"),
                                                 _tokens.c.access_revoked_at.is_(None))
                           .values(access_revoked_at=bindparam("now")))
_REPLACE_SECRET_HASH = Statement(update(OAuthClient.__table__)
                                 .where(OAuthClient.__table__.c.id == bindparam("row_id"),
                                        OAuthClient.__table__.c.secret_hash == bindparam("old"))
                                 .values(secret_hash=bindparam("new")))
_POLICIES = Statement(ELIGIBLE)


def spend_code(code_id: int, now: datetime) -> tuple:
    """Mark a code used: matches no row if it was already (a replay, or a concurrent exchange that won)."""
    return _SPEND_CODE, {"row_id": code_id, "now": now}


def spend_refresh(token_id: int, now: datetime) -> tuple:
    """Mark a refresh token used: matches no row if it was already, or was revoked meanwhile."""
    return _SPEND_REFRESH, {"row_id": token_id, "now": now}


def insert_token(values: dict) -> tuple:
    """One token row; ``values`` has every field of :data:`TOKEN_FIELDS`."""
    return _INSERT_TOKEN, values


def insert_event(values: dict) -> tuple:
    """One audit row (values of :func:`idp.audit.event_values`)."""
    return _INSERT_EVENT, values


def revoke_grant(token: records.TokenRecord, now: datetime) -> tuple:
    """The token row and, if it belongs to one, its whole family (RFC 7009 §2.1, RFC 9700 §4.14.2)."""
    if token.family_id:
        return _REVOKE_FAMILY, {"row_id": token.id, "family_id": token.family_id, "now": now}
    return _REVOKE_ROW, {"row_id": token.id, "now": now}


def revoke_access(token: records.TokenRecord, now: datetime) -> tuple:
    """The row's access token only (RFC 7009: revoking an access token need not revoke its grant)."""
    return _REVOKE_ACCESS, {"row_id": token.id, "now": now}


def revoke_from_code(code_id: int, now: datetime) -> tuple:
    """Every token descending from a code (RFC 6749 §4.1.2: a replayed code revokes what it gave)."""
    return _REVOKE_FROM_CODE, {"code_id": code_id, "now": now}


def replace_secret_hash(client_pk: int, old: str, new: str) -> tuple:
    """A client's secret hash replaced by ``new`` (the same secret in the current format), if it is still
    ``old``: a secret rotated meanwhile is never overwritten."""
    return _REPLACE_SECRET_HASH, {"row_id": client_pk, "old": old, "new": new}


def policies(connection, account_id: int) -> list[dict]:
    """The ``policies`` claim of an account (:mod:`idp.policies.claims`)."""
    return as_claims(connection.all(_POLICIES, {"account_id": account_id}))
