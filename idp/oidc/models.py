"""What the provider remembers about authorizations: codes, tokens and consents.

Codes and tokens are opaque random strings; only their SHA-256 is stored and every lookup is one
indexed equality on that hash, so a database dump opens nothing and the hot paths stay flat.

* :class:`AuthorizationCode` — RFC 6749 §4.1.2, OIDC Core §3.1.2.5: single use, short-lived, bound to
  the client, the redirect URI, the PKCE challenge (RFC 7636 §4.4) and the sign-in it came from.
* :class:`OAuthToken` — one row per token response: an access token (RFC 6750) and, with
  ``offline_access``, a refresh token (RFC 6749 §6). Rows of one sign-in share ``family_id`` and
  ``code_id``, so reuse of a spent refresh token (OAuth 2.0 Security BCP, RFC 9700 §4.14.2) and replay of
  a spent code (RFC 6749 §4.1.2) revoke everything that descends from it.
* :class:`Consent` — the scopes a customer allowed a third-party client; revocable.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from authlib.oidc.core import AuthorizationCodeMixin
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.accounts import Account
from idp.clients import OAuthClient
from idp.extensions import db, not_null


def token_hash(value: str) -> str:
    """SHA-256 of a code or token, as stored: the random value has 256 bits, so no salt or stretching."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def unix(value: datetime | None) -> int | None:
    """Seconds since the epoch of a naive UTC datetime (the form JWT claims use, RFC 7519 §2)."""
    if value is None:
        return None
    return int((value - datetime(1970, 1, 1)).total_seconds())


class AuthorizationCode(db.Model, AuthorizationCodeMixin):
    __tablename__ = "oauth_codes"
    __table_args__ = (Index("ix_oauth_codes_client_nonce", "client_pk", "nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    redirect_uri: Mapped[str] = mapped_column(String(2000), nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    nonce: Mapped[str | None] = mapped_column(String(512))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    #: When and how the customer signed in (OIDC Core §2 ``auth_time``, RFC 8176 ``amr``).
    auth_time: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    amr: Mapped[str] = mapped_column(String(50), nullable=False, default="pwd")
    #: The provider session it was issued in (:attr:`idp.sessions.BrowserSession.sid`).
    sid: Mapped[str | None] = mapped_column(String(64))
    #: The authorization request's ``resource`` (RFC 8707), one of the client's audiences; None: none named.
    resource: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    client: Mapped[OAuthClient] = relationship(lazy="joined")

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return unix(self.auth_time)

    def get_amr(self) -> list[str]:
        return self.amr.split()


class OAuthToken(db.Model):
    __tablename__ = "oauth_tokens"
    # The indexes of columns a machine's token (client_credentials) leaves empty are partial: its row adds no
    # entry to them (less written with every token, smaller indexes). Every query on these columns is an
    # equality, which implies IS NOT NULL, so SQLite and PostgreSQL use them as before.
    __table_args__ = (
        Index("ix_oauth_tokens_account_client", "account_id", "client_pk", **not_null("account_id")),
        Index("ix_oauth_tokens_family_id", "family_id", **not_null("family_id")),
        Index("ix_oauth_tokens_code_id", "code_id", **not_null("code_id")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False)
    #: The customer; None for ``client_credentials`` tokens.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    grant_type: Mapped[str] = mapped_column(String(40), nullable=False)
    #: Every row descending from one code exchange shares a family (refresh rotation keeps it).
    family_id: Mapped[str | None] = mapped_column(String(32))
    code_id: Mapped[int | None] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    access_expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The access token alone was revoked (RFC 7009 with an access token).
    access_revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The whole grant was revoked: access and refresh token (family revocation, refresh-token revocation).
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: The refresh token was exchanged; presenting it again is reuse.
    refresh_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    auth_time: Mapped[datetime | None] = mapped_column(DateTime)
    amr: Mapped[str | None] = mapped_column(String(50))
    #: The provider session of the sign-in (its code's ``sid``); None for a machine's token.
    sid: Mapped[str | None] = mapped_column(String(64))
    #: The ``resource`` (RFC 8707) the token was issued for — named at the authorization request or a token
    #: request, or kept from the token refreshed — which its refresh family keeps; None: the default audience.
    resource: Mapped[str | None] = mapped_column(String(2000))

    client: Mapped[OAuthClient] = relationship(lazy="joined")
    account: Mapped[Account | None] = relationship(lazy="joined")


class Consent(db.Model):
    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("account_id", "client_pk", name="uq_oauth_consents_account_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False,
                                           index=True)
    #: Space-separated scopes the customer allowed.
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    granted_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    client: Mapped[OAuthClient] = relationship(lazy="joined")

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())
