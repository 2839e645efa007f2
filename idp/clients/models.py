"""The OAuth client (relying party) registration: who may ask for codes and tokens, and where to send them.

The model also speaks Authlib's client protocol (:class:`authlib.oauth2.rfc6749.ClientMixin`), so the
authorization server can use a row directly; secrets are checked by :mod:`idp.oidc.hooks`, which holds
the key.
"""
from __future__ import annotations

from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, false as sa_false, true as sa_true
from sqlalchemy.orm import Mapped, mapped_column

from idp.clients.web_origins import effective_origins
from idp.extensions import db

#: The scopes this provider understands (OIDC Core §5.4 and §11); new clients get all of them by default.
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "offline_access")
#: Grant types a client may be allowed (RFC 6749 §4.1, §4.4, §6).
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
#: Access token formats (``oauth_clients.access_token_format``): a random handle, or RFC 9068.
ACCESS_TOKEN_FORMATS = ("opaque", "jwt")
#: Client authentication methods (OIDC Core §9) by client kind.
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
PUBLIC_AUTH_METHODS = ("none",)


class OAuthClient(db.Model, ClientMixin):
    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The public identifier the client sends (RFC 6749 §2.2).
    client_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    #: The SHA-256 of the secret sealed under the secret key, ``aead$<key id>.<base64url>`` (the first format:
    #: ``hmac-sha256$<hex>``; see :mod:`idp.clients.secrets`); None for public clients.
    secret_hash: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    redirect_uris: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: Scopes the client may be granted; anything else it asks for is ignored (OIDC Core §3.1.2.1).
    scopes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    grant_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: A public client (browser or native app) has no secret and must use PKCE (RFC 7636, RFC 9700 §2.1.1).
    public: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: PKCE (S256) required of this client: always for a public client; by default for a confidential one too
    #: (RFC 9700 §2.1.1). An admin may opt a legacy confidential relying party out, which the audit records.
    pkce_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=sa_true())
    #: ``opaque`` (a random handle, looked up) or ``jwt`` (RFC 9068, validated by resource servers locally).
    access_token_format: Mapped[str] = mapped_column(String(10), nullable=False, default="opaque",
                                                     server_default="opaque")
    #: Resource URIs (RFC 8707) this client may get access tokens for; the first is the default audience.
    audiences: Mapped[list] = mapped_column(JSON, nullable=False, default=list, server_default="[]")
    #: OpenID Connect Back-Channel Logout 1.0: where the logout token is posted, and whether it must carry sid.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(2000))
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                                      server_default=sa_false())
    #: Origins a browser application calls the provider from (CORS); None: derived from the redirect URIs for a
    #: public client, none for a confidential one.
    web_origins: Mapped[list | None] = mapped_column(JSON)
    #: First-party clients (set by an admin) skip the consent page.
    first_party: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def requires_pkce(self) -> bool:
        return self.public or self.pkce_required

    @property
    def auth_methods(self) -> tuple[str, ...]:
        return PUBLIC_AUTH_METHODS if self.public else CONFIDENTIAL_AUTH_METHODS

    @property
    def cors_origins(self) -> frozenset[str]:
        """The browser origins allowed to call the protocol endpoints as this client (none when disabled):
        :mod:`idp.clients.web_origins`."""
        if not self.active:
            return frozenset()
        return effective_origins(self.public, self.redirect_uris, self.web_origins)

    def __repr__(self) -> str:
        return f"<OAuthClient {self.client_id}>"

    # -- Authlib's ClientMixin (RFC 6749 §2) ------------------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC Core §3.1.2.1 makes redirect_uri REQUIRED: no default, ever.
        return None

    def get_allowed_scope(self, scope) -> str:
        """The requested scopes this client may have, in request order; unknown ones dropped silently."""
        if not scope:
            return ""
        allowed = set(self.scopes)
        requested = scope.split() if isinstance(scope, str) else list(scope)
        kept: list[str] = []
        for item in requested:
            if item in allowed and item not in kept:
                kept.append(item)
        return " ".join(kept)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return isinstance(redirect_uri, str) and redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:  # pragma: no cover - see idp.oidc.hooks
        raise NotImplementedError("client secrets are checked with the keyed hash in idp.oidc.hooks")

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in self.auth_methods

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    @property
    def client_metadata(self) -> dict:
        """Registration metadata in RFC 7591 / OIDC Registration names, read by Authlib's endpoints."""
        return {
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": ["code"] if "authorization_code" in self.grant_types else [],
            "scope": " ".join(self.scopes),
            "token_endpoint_auth_method": self.auth_methods[0],
        }
