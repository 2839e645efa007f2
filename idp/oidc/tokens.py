"""Opaque tokens and codes: making them, finding them by hash, spending and revoking them.

* Values are 256 random bits (``secrets.token_urlsafe(32)``); rows keep only SHA-256 (see models).
* Spending is one conditional UPDATE (``… WHERE used_at IS NULL``): of two concurrent exchanges of the
  same code or refresh token exactly one wins, on SQLite and PostgreSQL alike.
* Revocation by family (RFC 9700 §4.14.2: refresh-token reuse) and by code (RFC 6749 §4.1.2: code
  replay) marks every descendant row at once.
* Lookups return read-only records (:mod:`idp.oidc.records`), not ORM entities; writes are table-level
  statements in the caller's transaction.
"""
from __future__ import annotations

import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from authlib.oauth2.rfc6749 import TokenMixin
from sqlalchemy import bindparam, insert, or_, update

from idp.audit import AuditEvent, publish
from idp.extensions import db
from idp.oidc import records, sql
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash, unix
from idp.oidc.sql import Statement

ACCESS = "access_token"
REFRESH = "refresh_token"
#: Longer than any value this provider issues; longer input is not looked up at all.
MAX_VALUE_LENGTH = 512


def new_value() -> str:
    return secrets.token_urlsafe(32)


def new_family() -> str:
    return secrets.token_hex(16)


class IssuedToken(TokenMixin):
    """One token found by its value: the row, which of its two tokens matched, and the time of asking.

    Implements Authlib's :class:`~authlib.oauth2.rfc6749.TokenMixin` for the bearer validator,
    revocation (RFC 7009) and introspection (RFC 7662) endpoints.
    """

    def __init__(self, row: records.TokenRecord, kind: str, now: datetime):
        self.row, self.kind, self.now = row, kind, now

    @property
    def scope(self) -> str:
        return self.row.scope

    def check_client(self, client) -> bool:
        return client is not None and self.row.client_pk == client.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, unix(self.expires_at) - unix(self.row.issued_at))

    @property
    def expires_at(self) -> datetime:
        return self.row.access_expires_at if self.kind == ACCESS else self.row.refresh_expires_at

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= self.now

    def is_revoked(self) -> bool:
        row = self.row
        if row.revoked_at is not None or row.client is None or not row.client.active:
            return True
        if row.account_id is not None and (row.account is None or not row.account.active):
            return True
        if self.kind == ACCESS:
            return row.access_revoked_at is not None
        return row.refresh_used_at is not None

    def is_active(self) -> bool:
        return not self.is_expired() and not self.is_revoked()

    def get_user(self):
        return self.row.account

    def get_client(self):
        return self.row.client


def hash_of(value) -> str | None:
    """The stored hash of a code or token value; None for anything this provider cannot have issued."""
    if not isinstance(value, str) or not value or len(value) > MAX_VALUE_LENGTH:
        return None
    return token_hash(value)


def find_token(value: str | None, kind: str, *, now: datetime) -> IssuedToken | None:
    """The token of this ``kind`` whose value is ``value``: one indexed lookup, client and account joined."""
    hashed = hash_of(value)
    if hashed is None:
        return None
    row = records.find_token(hashed, refresh=kind != ACCESS)
    return IssuedToken(row, kind, now) if row is not None else None


# The hot paths' statements, built once (building and cache-keying a statement costs more than running it).
_codes, _tokens = AuthorizationCode.__table__, OAuthToken.__table__
_SPEND_CODE = Statement(update(_codes).where(_codes.c.id == bindparam("row_id"), _codes.c.used_at.is_(None))
                        .values(used_at=bindparam("now")))
_SPEND_REFRESH = Statement(update(_tokens).where(_tokens.c.id == bindparam("row_id"),
                                                 _tokens.c.refresh_used_at.is_(None), _tokens.c.revoked_at.is_(None))
                           .values(refresh_used_at=bindparam("now")))


#: The columns :func:`add_token` is given (the others, the revocation marks, start empty).
TOKEN_FIELDS = ("access_token_hash", "refresh_token_hash", "client_pk", "account_id", "scope", "grant_type",
                "family_id", "code_id", "issued_at", "access_expires_at", "refresh_expires_at", "auth_time", "amr")


def add_token(**values) -> None:
    """Insert one token row in the caller's transaction (now, or with the request's other writes inside
    :func:`deferred_writes`): a table-level INSERT, without the ORM's unit of work for an object nobody
    reads back in the request that issues it. Every field of :data:`TOKEN_FIELDS` is given."""
    pending = _deferred.get()
    if pending is not None:
        pending.append((_INSERT_TOKEN, values, None))
    else:
        _INSERT_TOKEN.run(values)


_INSERT_TOKEN = Statement(insert(_tokens), column_keys=TOKEN_FIELDS)


def add_event(values: dict) -> None:
    """An audit row (values of :func:`idp.audit.event_values`) in the caller's transaction; inside
    :func:`deferred_writes`, written with the other writes and counted and logged by :func:`committed`."""
    pending = _deferred.get()
    if pending is not None:
        pending.append((_INSERT_EVENT, values, None))
        _written_events.get().append(values)
    else:
        _INSERT_EVENT.run(values)
        publish(values)


_INSERT_EVENT = Statement(insert(AuditEvent.__table__), column_keys=(
    "at", "event", "account_id", "client_id", "ip", "user_agent", "details"))


def find_any(value: str | None, hint: str | None, *, now: datetime) -> IssuedToken | None:
    """Look by ``token_type_hint`` first, then the other kind (RFC 7009 §2.1, RFC 7662 §2.1)."""
    order = (REFRESH, ACCESS) if hint == REFRESH else (ACCESS, REFRESH)
    for kind in order:
        found = find_token(value, kind, now=now)
        if found is not None:
            return found
    return None


def find_code(value: str | None) -> records.CodeRecord | None:
    hashed = hash_of(value)
    return records.find_code(hashed) if hashed is not None else None


def spend_code(code: records.CodeRecord, *, now: datetime, on_conflict=None) -> bool:
    """Mark the code used; False if it already was (a replay). The record is told the new value.

    Inside :func:`deferred_writes` the mark waits for :func:`run_deferred` (True now), and a code found
    already spent then calls ``on_conflict``."""
    return _spend(_SPEND_CODE, code, "used_at", now, on_conflict)


def spend_refresh(row: records.TokenRecord, *, now: datetime, on_conflict=None) -> bool:
    """Mark the refresh token used; False if it already was (reuse) or was revoked meanwhile (see
    :func:`spend_code`)."""
    return _spend(_SPEND_REFRESH, row, "refresh_used_at", now, on_conflict)


def _spend(statement, record, field: str, now: datetime, on_conflict) -> bool:
    params = {"row_id": record.id, "now": now}
    pending = _deferred.get()
    if pending is not None:
        pending.append((statement, params, on_conflict))
    elif statement.run(params) != 1:
        return False
    setattr(record, field, now)
    return True


#: The token endpoint's writes, waiting for its commit (see :func:`deferred_writes`); None outside.
_deferred: ContextVar[list | None] = ContextVar("idp_oidc_deferred_writes", default=None)
#: The audit events among them, published once committed.
_written_events: ContextVar[list | None] = ContextVar("idp_oidc_deferred_events", default=None)


@contextmanager
def deferred_writes():
    """Inside, new tokens (:func:`add_token`) and spent codes and refresh tokens (:func:`spend_code`,
    :func:`spend_refresh`) are not written at once but by :func:`run_deferred`, back to back, right before
    the commit.

    SQLite has one writer at a time: the first write of a transaction takes the database's write lock
    and the commit gives it back; every other writer waits, in sleeps of 1, 2, 5 … 100 ms. Written where
    they happen, the code exchange held the lock across the rest of the request (the ID token's RSA
    signature, the response), and under load other requests' waits became their latency. Written
    together at the end, the lock is held for two statements and the commit. The result is the same:
    spending stays one conditional UPDATE, so of two concurrent uses exactly one wins."""
    reset, reset_events = _deferred.set([]), _written_events.set([])
    try:
        yield
    finally:
        _deferred.reset(reset)
        _written_events.reset(reset_events)


def committed() -> None:
    """After the commit of :func:`run_deferred`'s writes: count and log the audit events among them."""
    events = _written_events.get() or []
    while events:
        publish(events.pop(0))


def run_deferred() -> None:
    """Write what :func:`deferred_writes` held back, in order. A spend that finds its code or refresh token
    spent already (a concurrent use won) rolls back this request's writes and calls its ``on_conflict``,
    which records the alarm and raises the OAuth error to answer with."""
    pending = _deferred.get()
    if pending and sql.can_batch():  # PostgreSQL: one or two round trips on the lookups' connection
        checked = [item for item in pending if item[2] is not None]
        rest = [(statement, params) for statement, params, on_conflict in pending if on_conflict is None]
        pending.clear()
        failed = sql.transaction([(statement, params) for statement, params, _ in checked], rest)
        if failed is not None:
            db.session.rollback()
            checked[failed][2]()
            raise RuntimeError("on_conflict must raise")  # pragma: no cover
        return
    while pending:
        statement, params, on_conflict = pending.pop(0)
        if statement.run(params) != 1 and on_conflict is not None:
            pending.clear()
            db.session.rollback()
            on_conflict()
            raise RuntimeError("on_conflict must raise")  # pragma: no cover


def revoke_family(family_id: str | None, *, now: datetime) -> int:
    if not family_id:
        return 0
    return _revoke(OAuthToken.family_id == family_id, now)


def revoke_from_code(code_id: int, *, now: datetime) -> int:
    """Every token descending from the code (RFC 6749 §4.1.2: a replayed code revokes what it gave)."""
    return _revoke(OAuthToken.code_id == code_id, now)


def revoke_grant(row: records.TokenRecord, *, now: datetime) -> int:
    """The row and, if it belongs to one, its whole family."""
    return _revoke(or_(OAuthToken.id == row.id, OAuthToken.family_id == row.family_id)
                   if row.family_id else OAuthToken.id == row.id, now)


def revoke_access(row: records.TokenRecord, *, now: datetime) -> None:
    db.session.execute(update(OAuthToken)
                       .where(OAuthToken.id == row.id, OAuthToken.access_revoked_at.is_(None))
                       .values(access_revoked_at=now))


def revoke_for_account(account_id: int, client_pk: int | None = None, *, now: datetime) -> int:
    """Every token of a customer (at one client, or everywhere): consent withdrawn, account disabled."""
    condition = OAuthToken.account_id == account_id
    if client_pk is not None:
        condition = condition & (OAuthToken.client_pk == client_pk)
    return _revoke(condition, now)


def _revoke(condition, now: datetime) -> int:
    result = db.session.execute(update(OAuthToken).where(condition, OAuthToken.revoked_at.is_(None))
                                .values(revoked_at=now))
    return result.rowcount
