"""An oracle for the protocol API (:mod:`idp.oidc.protocol`): Authlib's stock grants and endpoints, on a
throwaway Flask application of their own that shares the provider's database.

    oracle = build_oracle(app)          # app: the provider's application (settings, clock, keys, database)
    oracle.test_client().post("/oracle/token", …)

Paths: ``/oracle/token``, ``/oracle/userinfo``, ``/oracle/introspect``, ``/oracle/revoke``.

Authlib answers every request; what Authlib leaves to its user — finding clients, codes and tokens, storing
what it issues, the claims — is written here, over the ORM models (``OAuthClient``, ``Account``,
``AuthorizationCode``, ``OAuthToken``, audit events through :func:`idp.audit.record`) and after the
provider's documented rules, as the Authlib hooks of the provider had them before the protocol API
replaced them (``git show 1868ec3~1:idp/oidc/hooks.py``, ``grants.py``, ``endpoints.py``). The hooks do not
call the implementation under test: no :mod:`idp.oidc.protocol`, :mod:`idp.oidc.store`,
:mod:`idp.oidc.pkce` or :mod:`idp.oidc.scopes`; the scope and claim rules are written again below.

The rules:

* clients: only enabled ones exist; ``client_secret_basic`` (form-urlencoded id and secret, both non-empty)
  and ``client_secret_post`` check the sealed hash (:func:`idp.clients.check_secret`) and are for
  confidential clients; ``none`` is for public clients only, with no secret and no ``Authorization``;
* a customer's token carries customer scopes only (the standard ones and ``policies``), those the client
  may have; a machine's (client_credentials: confidential clients, basic or post) carries the scopes asked
  for (all the client may have if none) minus customer scopes, and asking only for ones it may not have is
  ``invalid_scope``; a refresh token comes with ``offline_access``, to a customer, if the client may use
  the refresh grant; never one for a machine;
* codes: single use — a spent code presented again revokes every token it gave and is recorded as
  ``token.reuse`` (committed although the request fails); expired ones do not exist; PKCE ``S256`` only,
  required from public clients; the customer must be enabled and have a password;
* refresh tokens rotate: each use spends the presented one and returns a new one in the same family; a
  spent one presented again revokes the whole family (``token.reuse``); the scope may be narrowed only;
* ID tokens: ``iss sub aud exp iat auth_time amr`` from the sign-in the code or refresh token remembers,
  ``nonce`` from the code (never on a refresh), ``at_hash``, and the ``policies`` claim with its scope;
* UserInfo: the bearer token in the ``Authorization`` header or a form-encoded POST body, scope ``openid``,
  the standard claims of Authlib's :class:`~authlib.oidc.core.UserInfo` filtered by scope (empty ones left
  out), ``policies`` with its scope; no token at all is ``invalid_token`` with a bare ``Bearer`` challenge;
* introspection (basic or post): a token of another client, unknown, expired, revoked or spent is
  ``{"active": false}``;
* revocation (basic, post or none): a refresh token revokes its grant (the family), an access token itself;
  another client's token is ``invalid_grant``; each revocation is recorded as ``token.revoked``.

The oracle's view commits what the endpoint wrote when it answers 2xx and rolls it back otherwise.
"""
from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (InvalidGrantError, InvalidScopeError, MissingAuthorizationError,
                                    TokenMixin, UnsupportedTokenTypeError, grants)
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode, OpenIDToken, UserInfo, UserInfoEndpoint
from flask import Flask, current_app
from flask import request as flask_request
from sqlalchemy import or_, select, update

from idp.accounts import Account
from idp.audit import Origin, record
from idp.clients import STANDARD_SCOPES, OAuthClient, check_secret
from idp.extensions import db
from idp.keys import ALG
from idp.oidc.models import AuthorizationCode, OAuthToken, token_hash
from idp.policies.claims import claims_for

PREFIX = "/oracle"
ACCESS, REFRESH = "access_token", "refresh_token"
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]
#: The scopes that concern a customer (never in a machine's token); ``policies`` releases the claim.
POLICIES = "policies"
CUSTOMER_SCOPES = frozenset(STANDARD_SCOPES) | {POLICIES}


@dataclass(frozen=True)
class Provider:
    """What the hooks need of the provider: its settings, clock and signing keys."""

    settings: object
    clock: object
    keys: object


def build_oracle(app: Flask) -> Flask:
    """A Flask application answering with Authlib's endpoints over ``app``'s database (its own engine to
    the same URL: dispose of it with :func:`dispose`)."""
    oracle = Flask("oracle")
    oracle.config.update(SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], TESTING=True)
    db.init_app(oracle)
    services = app.extensions["idp"]
    oracle.extensions["oracle"] = Provider(services.settings, services.clock, app.extensions["idp.keys"])
    server = OracleServer()
    server.init_app(oracle)
    server.register_token_generator("default", generate_bearer_token)
    for method, func in (("client_secret_basic", authenticate_basic),
                         ("client_secret_post", authenticate_post), ("none", authenticate_none)):
        server.register_client_auth_method(method, func)
    server.register_grant(CodeGrant, [CodeIdToken(require_nonce=False), S256CodeChallenge(required=True)])
    server.register_grant(RefreshGrant, [RefreshIdToken()])
    server.register_grant(MachineGrant)
    protector = BearerProtector()
    protector.register_token_validator(AccessTokenValidator())
    server.register_endpoint(OracleUserInfo(resource_protector=protector))
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)

    def finish(response):
        """Commit what the endpoint wrote if it succeeded; forget it otherwise."""
        if 200 <= response.status_code < 300:
            db.session.commit()
        else:
            db.session.rollback()
        return response

    @oracle.post(PREFIX + "/token")
    def token():
        return finish(server.create_token_response())

    @oracle.route(PREFIX + "/userinfo", methods=["GET", "POST"])
    def userinfo():
        return finish(server.create_endpoint_response("userinfo"))

    @oracle.post(PREFIX + "/introspect")
    def introspect():
        return finish(server.create_endpoint_response("introspection"))

    @oracle.post(PREFIX + "/revoke")
    def revoke():
        return finish(server.create_endpoint_response("revocation"))

    return oracle


def dispose(oracle: Flask) -> None:
    with oracle.app_context():
        db.session.remove()
        db.engine.dispose()


# -- context -------------------------------------------------------------------------------------------------

def provider() -> Provider:
    return current_app.extensions["oracle"]


def now() -> datetime:
    return provider().clock.now()


def unix(value: datetime) -> int:
    return int((value - datetime(1970, 1, 1)).total_seconds())


def origin() -> Origin:
    agent = flask_request.headers.get("User-Agent", "")
    return Origin(ip=flask_request.remote_addr, user_agent=agent[:300] or None)


def scope_items(scope: str | None) -> list[str]:
    items: list[str] = []
    for item in (scope or "").split():
        if item not in items:
            items.append(item)
    return items


def customer_scope(client: OAuthClient, requested: str | None) -> str:
    """What a customer's token carries of ``requested``: what the client may have, customer scopes only."""
    return " ".join(s for s in scope_items(requested) if s in client.scopes and s in CUSTOMER_SCOPES)


def machine_scope(client: OAuthClient, requested: str | None) -> str:
    """What a machine's token carries of ``requested`` (all the client may have if nothing is asked)."""
    allowed = [s for s in client.scopes if s not in CUSTOMER_SCOPES]
    return " ".join(s for s in (scope_items(requested) if requested else allowed) if s in allowed)


def may_receive_tokens(account: Account | None) -> bool:
    return account is not None and account.active and account.password_hash is not None


# -- clients -------------------------------------------------------------------------------------------------

def active_client(client_id) -> OAuthClient | None:
    if not isinstance(client_id, str) or not client_id or "\x00" in client_id or len(client_id) > 64:
        return None
    query = select(OAuthClient).where(OAuthClient.client_id == client_id)
    client = db.session.execute(query).scalar_one_or_none()
    return client if client is not None and client.active else None


def basic_credentials(headers) -> tuple[str, str] | None:
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    client_id, secret = unquote(client_id), unquote(secret)
    return (client_id, secret) if client_id and secret else None


def client_with_secret(query_client, client_id, secret) -> OAuthClient | None:
    if not client_id or not secret:
        return None
    client = query_client(client_id)
    if client is None or client.public:
        return None
    return client if check_secret(secret, client.secret_hash, provider().settings.secret_keys) else None


def authenticate_basic(query_client, request):
    credentials = basic_credentials(request.headers)
    return client_with_secret(query_client, *credentials) if credentials is not None else None


def authenticate_post(query_client, request):
    return client_with_secret(query_client, request.form.get("client_id"), request.form.get("client_secret"))


def authenticate_none(query_client, request):
    if request.payload.data.get("client_secret") or request.headers.get("Authorization"):
        return None
    client = query_client(request.payload.client_id)
    return client if client is not None and client.public else None


# -- tokens --------------------------------------------------------------------------------------------------

def hashed(value) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 512:
        return None
    return token_hash(value)


class FoundToken(TokenMixin):
    """A token row found by one of its two values (``kind``), as Authlib's endpoints see it."""

    def __init__(self, row: OAuthToken, kind: str, at: datetime):
        self.row, self.kind, self.at = row, kind, at

    @property
    def scope(self) -> str:
        return self.row.scope

    @property
    def expires_at(self) -> datetime | None:
        return self.row.access_expires_at if self.kind == ACCESS else self.row.refresh_expires_at

    def check_client(self, client) -> bool:
        return client is not None and self.row.client_pk == client.id

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return unix(self.expires_at) - unix(self.row.issued_at)

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= self.at

    def is_revoked(self) -> bool:
        row = self.row
        if row.revoked_at is not None or row.client is None or not row.client.active:
            return True
        if row.account_id is not None and (row.account is None or not row.account.active):
            return True
        return (row.access_revoked_at if self.kind == ACCESS else row.refresh_used_at) is not None

    def get_user(self):
        return self.row.account

    def get_client(self):
        return self.row.client


def find_token(value, kind: str) -> FoundToken | None:
    digest = hashed(value)
    if digest is None:
        return None
    column = OAuthToken.access_token_hash if kind == ACCESS else OAuthToken.refresh_token_hash
    row = db.session.execute(select(OAuthToken).where(column == digest)).unique().scalar_one_or_none()
    return FoundToken(row, kind, now()) if row is not None else None


def find_any(value, hint) -> FoundToken | None:
    for kind in ((REFRESH, ACCESS) if hint == REFRESH else (ACCESS, REFRESH)):
        found = find_token(value, kind)
        if found is not None:
            return found
    return None


def revoke_rows(condition) -> int:
    result = db.session.execute(update(OAuthToken).where(condition, OAuthToken.revoked_at.is_(None))
                                .values(revoked_at=now()).execution_options(synchronize_session=False))
    return result.rowcount


def revoke_grant(row: OAuthToken) -> int:
    """The row and its whole family."""
    return revoke_rows(or_(OAuthToken.id == row.id, OAuthToken.family_id == row.family_id)
                       if row.family_id else OAuthToken.id == row.id)


def alarm(revoked: int, *, kind: str, account_id, client: OAuthClient) -> None:
    """A spent code or refresh token presented again: recorded, and committed with the revocation."""
    record("token.reuse", at=now(), origin=origin(), account_id=account_id, client_id=client.client_id,
           kind=kind, revoked=revoked)
    db.session.commit()


def generate_bearer_token(grant_type, client, user=None, scope=None, expires_in=None,
                          include_refresh_token=True):
    """The server's token generator (Authlib's ``register_token_generator``)."""
    settings = provider().settings
    if grant_type == "client_credentials":
        scope = machine_scope(client, scope)
    else:  # a customer's token carries customer scopes only
        scope = customer_scope(client, scope)
    token = {"token_type": "Bearer", "access_token": secrets.token_urlsafe(32),
             "expires_in": expires_in or settings.access_token_ttl}
    if scope:
        token["scope"] = scope
    if (include_refresh_token and user is not None and "offline_access" in scope_items(scope)
            and client.check_grant_type("refresh_token")):
        token["refresh_token"] = secrets.token_urlsafe(32)
    return token


class OracleServer(AuthorizationServer):
    def query_client(self, client_id):
        return active_client(client_id)

    def save_token(self, token, request):
        """The token row and its ``token.issued`` event (the server's hook; grants call it)."""
        settings, at = provider().settings, now()
        client, user = request.client, request.user
        code, previous = request.authorization_code, request.refresh_token
        signed_in = previous.row if previous is not None else code
        refresh = token.get("refresh_token")
        db.session.add(OAuthToken(
            access_token_hash=token_hash(token["access_token"]),
            refresh_token_hash=token_hash(refresh) if refresh else None,
            client_pk=client.id, account_id=user.id if user is not None else None,
            scope=token.get("scope", ""),
            grant_type=request.payload.grant_type,
            family_id=(previous.row.family_id if previous is not None
                       else secrets.token_hex(16) if code is not None else None),
            code_id=previous.row.code_id if previous is not None else code.id if code is not None else None,
            issued_at=at, access_expires_at=at + timedelta(seconds=token["expires_in"]),
            refresh_expires_at=at + timedelta(seconds=settings.refresh_token_ttl) if refresh else None,
            auth_time=signed_in.auth_time if signed_in is not None else None,
            amr=signed_in.amr if signed_in is not None else None))
        record("token.issued", at=at, origin=origin(), client_id=client.client_id,
               account_id=user.id if user is not None else None, grant_type=request.payload.grant_type,
               scope=token.get("scope", ""), with_refresh=bool(refresh))


# -- grants --------------------------------------------------------------------------------------------------

class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS + ["none"]

    def query_authorization_code(self, code, client):
        digest = hashed(code)
        query = select(AuthorizationCode).where(AuthorizationCode.code_hash == digest)
        row = None if digest is None else db.session.execute(query).unique().scalar_one_or_none()
        if row is None or row.client_pk != client.id:
            return None
        if row.used_at is not None:
            alarm(revoke_rows(OAuthToken.code_id == row.id), kind="authorization_code",
                  account_id=row.account_id, client=client)
            return None
        return row if row.expires_at > now() else None

    def delete_authorization_code(self, authorization_code):
        authorization_code.used_at = now()  # spent; the row stays so that a replay is caught

    def authenticate_user(self, authorization_code):
        account = db.session.get(Account, authorization_code.account_id)
        if not may_receive_tokens(account):
            raise InvalidGrantError("The account cannot receive tokens.")
        return account


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS + ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        found = find_token(refresh_token, REFRESH)
        if found is None or not found.check_client(self.request.client):
            return None
        if found.row.refresh_used_at is not None:
            alarm(revoke_grant(found.row), kind="refresh_token", account_id=found.row.account_id,
                  client=self.request.client)
            return None
        return None if found.is_expired() or found.is_revoked() else found

    def authenticate_user(self, refresh_token):
        account = refresh_token.row.account
        if not may_receive_tokens(account):
            raise InvalidGrantError("The account cannot receive tokens.")
        return account

    def revoke_old_credential(self, refresh_token):
        refresh_token.row.refresh_used_at = now()


class MachineGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = SECRET_METHODS

    def validate_token_request(self):
        super().validate_token_request()
        requested = self.request.payload.scope
        if requested and not machine_scope(self.request.client, requested):
            raise InvalidScopeError("None of the requested scopes is allowed for this client.")


class S256CodeChallenge(CodeChallenge):
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"


class RefreshIdToken(OpenIDToken):
    """The ID token of a token response: Authlib's, with the provider's claims and key."""

    def get_compatible_claims(self, request):
        settings, at = provider().settings, now()
        previous = request.refresh_token
        signed_in = previous.row if previous is not None else request.authorization_code
        return {"iss": settings.issuer, "aud": request.client.client_id, "iat": unix(at),
                "exp": unix(at) + settings.id_token_ttl, "auth_time": unix(signed_in.auth_time or at),
                "amr": (signed_in.amr or "pwd").split()}

    def get_client_algorithm(self, client):
        return ALG

    def get_encode_header(self, client):
        return {"alg": ALG, "kid": provider().keys.signing_key().kid}

    def resolve_client_private_key(self, client):
        return provider().keys.signing_key().private_key

    def generate_user_info(self, user, scope):
        claims = {"sub": user.subject}
        if POLICIES in scope_items(scope):
            claims[POLICIES] = claims_for(user.id)
        return claims


class CodeIdToken(RefreshIdToken, OpenIDCode):
    def exists_nonce(self, nonce, request):  # the authorization endpoint's; never asked at the token endpoint
        return False


# -- UserInfo ------------------------------------------------------------------------------------------------

class MissingBearerToken(MissingAuthorizationError):
    """No bearer token at all: ``invalid_token`` in the body, a bare ``Bearer`` challenge (RFC 6750 §3.1)."""

    error = "invalid_token"

    def get_headers(self):
        return OAuth2Error.get_headers(self) + [("WWW-Authenticate", "Bearer")]


class BearerProtector(ResourceProtector):
    def parse_request_authorization(self, request):
        """The ``Authorization`` header (RFC 6750 §2.1) or, without one, a form-encoded POST body (§2.2)."""
        auth = request.headers.get("Authorization")
        if not auth:
            form_post = (flask_request.method == "POST"
                         and flask_request.mimetype == "application/x-www-form-urlencoded")
            if form_post:
                value = flask_request.form.get("access_token")
                if value:
                    return self.get_token_validator("bearer"), value
            raise MissingBearerToken("Bearer")
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise UnsupportedTokenTypeError("Bearer")
        return self.get_token_validator("bearer"), parts[1].strip()


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return find_token(token_string, ACCESS)


class OracleUserInfo(UserInfoEndpoint):
    def get_issuer(self):
        return provider().settings.issuer

    def generate_user_info(self, user, scope):
        if user is None:  # a machine's token has no customer
            raise InvalidTokenError()
        everything = UserInfo(sub=user.subject, name=user.full_name, email=user.email,
                              email_verified=bool(user.email_verified) if user.email else None,
                              phone_number=user.phone,
                              phone_number_verified=bool(user.phone_verified) if user.phone else None)
        claims = everything.filter(scope)
        claims = {name: value for name, value in claims.items() if value is not None}
        if POLICIES in scope_items(scope):
            claims[POLICIES] = claims_for(user.id)
        return claims


# -- revocation and introspection ----------------------------------------------------------------------------

class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = SECRET_METHODS + ["none"]

    def query_token(self, token_string, token_type_hint):
        return find_any(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if token.kind == REFRESH:
            revoke_grant(token.row)  # RFC 7009 §2.1: the grant's access tokens too
        else:
            db.session.execute(update(OAuthToken).where(OAuthToken.id == token.row.id,
                                                        OAuthToken.access_revoked_at.is_(None))
                               .values(access_revoked_at=now()).execution_options(synchronize_session=False))
        record("token.revoked", at=now(), origin=origin(), account_id=token.row.account_id,
               client_id=token.row.client.client_id, kind=token.kind, via="revocation")


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_METHODS

    def query_token(self, token_string, token_type_hint):
        return find_any(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        row = token.row
        data = {"active": True, "client_id": row.client.client_id, "scope": row.scope,
                "iss": provider().settings.issuer, "aud": row.client.client_id, "iat": unix(row.issued_at),
                "exp": unix(token.expires_at)}
        if token.kind == ACCESS:
            data["token_type"] = "Bearer"
        if row.account is not None:
            data["sub"] = row.account.subject
        return data

