"""Opaque tokens and codes: their values, the rules that make one usable, and revoking a customer's.

* Values are 256 random bits (``secrets.token_urlsafe(32)``); rows keep only SHA-256 (see models).
* :class:`IssuedToken` is one token found by its value and the rules every endpoint applies to it
  (expired, revoked, spent, its client disabled, its customer disabled).
* :func:`revoke_for_account`: every token of a customer (consent withdrawn, password changed, account
  disabled), in the caller's ORM transaction. The protocol endpoints' own writes (spending, issuing,
  revoking one grant) are :mod:`idp.oidc.store`'s.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import update

from idp.extensions import db
from idp.oidc.models import OAuthToken, token_hash, unix

ACCESS = "access_token"
REFRESH = "refresh_token"
#: Longer than any value this provider issues; longer input is not looked up at all.
MAX_VALUE_LENGTH = 512


def new_value() -> str:
    return secrets.token_urlsafe(32)


def new_family() -> str:
    return secrets.token_hex(16)


def hash_of(value) -> str | None:
    """The stored hash of a code or token value; None for anything this provider cannot have issued."""
    if not isinstance(value, str) or not value or len(value) > MAX_VALUE_LENGTH:
        return None
    return token_hash(value)


class IssuedToken:
    """One token found by its value: the row (a :class:`~idp.oidc.store.records.TokenRecord` with its
    ``client`` and ``account``), which of its two tokens matched, and the time of asking."""

    __slots__ = ("row", "kind", "now")

    def __init__(self, row, kind: str, now: datetime):
        self.row, self.kind, self.now = row, kind, now

    @property
    def scope(self) -> str:
        return self.row.scope

    @property
    def account(self):
        return self.row.account

    @property
    def client(self):
        return self.row.client

    def belongs_to(self, client) -> bool:
        return client is not None and self.row.client_pk == client.id

    @property
    def expires_at(self) -> datetime | None:
        return self.row.access_expires_at if self.kind == ACCESS else self.row.refresh_expires_at

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= self.now

    def is_revoked(self) -> bool:
        """Revoked, spent (a refresh token), or no longer backed by an enabled client and customer."""
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

    def expires_at_unix(self) -> int | None:
        return unix(self.expires_at)


def revoke_for_account(account_id: int, client_pk: int | None = None, *, now: datetime) -> int:
    """Every token of a customer (at one client, or everywhere): consent withdrawn, account disabled."""
    condition = OAuthToken.account_id == account_id
    if client_pk is not None:
        condition = condition & (OAuthToken.client_pk == client_pk)
    result = db.session.execute(update(OAuthToken).where(condition, OAuthToken.revoked_at.is_(None))
                                .values(revoked_at=now))
    return result.rowcount
