"""Every Authlib hook of the provider, in one mixin shared by the server, the grants, the OpenID
extensions and the endpoints (see :mod:`idp.oidc.server` for who inherits it).

Authlib calls these by name; each is a thin translation to :mod:`idp.oidc.tokens`, :mod:`idp.oidc.id_token`,
:mod:`idp.oidc.scopes` and :mod:`idp.clients`. Hooks never commit: the endpoint view owns the transaction
(commit on success, roll back on error) — except the two alarms, a replayed code and a reused refresh
token, whose revocations must stand although the request itself fails.
"""
from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidGrantError
from flask import current_app, g, has_app_context, has_request_context, session
from flask import request as flask_request
from sqlalchemy import select

from idp.audit import Origin, event_values, record
from idp.clients import check_secret
from idp.extensions import db
from idp.keys import ALG
from idp.oidc import records, tokens
from idp.oidc.id_token import build_id_token
from idp.oidc.models import AuthorizationCode, token_hash, unix
from idp.oidc.scopes import customer_scope, id_token_claims, machine_scope, scope_list, user_claims
from idp.sessions import end_session as end_browser_session

log = logging.getLogger(__name__)

class ProviderHooks:
    """Authlib's extension points, implemented once."""

    # -- context ------------------------------------------------------------------------------------

    @property
    def services(self):
        return current_app.extensions["idp"]

    @property
    def keys(self):
        return current_app.extensions["idp.keys"]

    def now(self):
        return self.services.clock.now()

    def get_issuer(self) -> str:
        return self.services.settings.issuer

    # -- clients (RFC 6749 §2.3, OIDC Core §9) --------------------------------------------------------

    def query_client(self, client_id):
        return records.find_active_client(client_id)

    def authenticate_client_secret_basic(self, query_client, request):
        """HTTP Basic with the form-urlencoded client_id and secret (RFC 6749 §2.3.1)."""
        credentials = self.basic_credentials(request.headers)
        return self._client_with_secret(query_client, *credentials) if credentials is not None else None

    @staticmethod
    def basic_credentials(headers) -> tuple[str, str] | None:
        """The client_id and secret of an ``Authorization: Basic`` header, both non-empty, else None."""
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

    def authenticate_client_secret_post(self, query_client, request):
        form = request.form
        return self._client_with_secret(query_client, form.get("client_id"), form.get("client_secret"))

    def authenticate_none(self, query_client, request):
        """A public client names itself and proves nothing here; PKCE proves possession (RFC 7636)."""
        if request.payload.data.get("client_secret") or request.headers.get("Authorization"):
            return None
        client = query_client(request.payload.client_id)
        return client if client is not None and client.public else None

    def _client_with_secret(self, query_client, client_id, secret):
        if not client_id or not secret:
            return None
        client = query_client(client_id)
        if client is None or client.public:
            return None
        if check_secret(secret, client.secret_hash, self.services.settings.secret_key):
            return client
        log.info("client authentication failed for client_id=%r", client_id[:64])
        return None

    # -- authorization codes (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2) ----------------------------------

    def exists_nonce(self, nonce, request) -> bool:
        """A nonce is refused while a code issued with it could still be exchanged; later the same
        authorization URL (a bookmark, a reload) works again. The RP's own nonce check is the real defence."""
        query = select(AuthorizationCode.id).where(AuthorizationCode.client_pk == request.client.id,
                                                   AuthorizationCode.nonce == nonce,
                                                   AuthorizationCode.expires_at > self.now()).limit(1)
        found = db.session.execute(query).first()
        return found is not None

    def save_authorization_code(self, code, request):
        now = self.now()
        data = request.payload.data
        signed_in = request.browser_session  # set by the authorize view: the sign-in behind this code
        db.session.add(AuthorizationCode(
            code_hash=token_hash(code), client_pk=request.client.id, account_id=request.user.id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            nonce=data.get("nonce") or None, code_challenge=data.get("code_challenge") or None,
            code_challenge_method=data.get("code_challenge_method") or None,
            auth_time=signed_in.auth_time, amr=signed_in.amr, created_at=now,
            expires_at=now + timedelta(seconds=self.services.settings.authorization_code_ttl)))

    def query_authorization_code(self, code, client):
        """The unexpired code of this client, spent on the way; a second use revokes its tokens."""
        row = tokens.find_code(code)
        if row is None or row.client_pk != client.id:
            return None
        now = self.now()
        if row.used_at is None and row.expires_at <= now:
            return None
        if row.used_at is not None or not self.spend_code(row, client, now):
            self._code_replayed(row, client, now)
            return None
        return row

    def spend_code(self, row, client, now) -> bool:
        """Spend the code ``row`` of ``client`` (see :func:`idp.oidc.tokens.spend_code`); if a concurrent
        exchange of it wins, the alarm of a replay is raised when the spend is written."""
        def replayed():  # a concurrent exchange of the same code won (found when the spend is written)
            self._code_replayed(row, client, now)
            raise InvalidGrantError("Invalid 'code' in request.")  # what Authlib answers for no code

        return tokens.spend_code(row, now=now, on_conflict=replayed)

    def _code_replayed(self, row, client, now):
        revoked = tokens.revoke_from_code(row.id, now=now)
        record("token.reuse", at=now, origin=_origin(), account_id=row.account_id, client_id=client.client_id,
               kind="authorization_code", revoked=revoked)
        db.session.commit()
        log.warning("authorization code replayed by client %s: %d token grant(s) revoked", client.client_id,
                    revoked)

    def delete_authorization_code(self, authorization_code):
        # Spent already (query_authorization_code); the row stays until it expires so a replay is detected.
        pass

    def authenticate_user(self, credential):
        """The customer behind a code or refresh token, if they may still receive tokens."""
        if isinstance(credential, records.CodeRecord):  # its customer came with it, or is looked up now
            account = (credential.__dict__["account"] if "account" in credential.__dict__
                       else records.find_account(credential.account_id))
        else:  # a refresh token: its customer came with it
            account = credential.row.account
        if account is None or not account.active or account.password_hash is None:
            # A disabled account, or one that must change its password, never gets a token.
            raise InvalidGrantError("The account cannot receive tokens.")
        return account

    # -- tokens (RFC 6749 §5.1, §6; RFC 6750) --------------------------------------------------------------

    def generate_bearer_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                              include_refresh_token=True):
        settings = self.services.settings
        if grant_type == "client_credentials":
            scope = machine_scope(client.scopes, scope)
        else:  # a customer's token carries customer scopes only, never "admin" or "policies:write"
            scope = customer_scope(client.get_allowed_scope(scope))
        token = {"token_type": "Bearer", "access_token": tokens.new_value(),
                 "expires_in": expires_in or settings.access_token_ttl}
        if scope:
            token["scope"] = scope
        if (include_refresh_token and user is not None and "offline_access" in scope_list(scope)
                and client.check_grant_type("refresh_token")):
            token["refresh_token"] = tokens.new_value()
        return token

    def save_token(self, token, request=None):
        """Store a token response (the server's hook; a grant calls it with its own request)."""
        request = request if request is not None else self.request
        self.store_token(token, client=request.client, user=request.user, grant_type=request.payload.grant_type,
                         code=request.authorization_code, previous=request.refresh_token)

    def store_token(self, token, *, client, user, grant_type, code=None, previous=None):
        """Store a token response issued to ``client`` for ``user`` (None for a machine) by ``grant_type``,
        from the authorization ``code`` or the ``previous`` refresh token: its row and its audit event."""
        settings, now = self.services.settings, self.now()
        origin = previous.row if previous is not None else code
        tokens.add_token(
            access_token_hash=token_hash(token["access_token"]),
            refresh_token_hash=token_hash(token["refresh_token"]) if token.get("refresh_token") else None,
            client_pk=client.id, account_id=user.id if user is not None else None,
            scope=token.get("scope", ""), grant_type=grant_type or "",
            family_id=(previous.row.family_id if previous is not None
                       else tokens.new_family() if code else None),
            code_id=(previous.row.code_id if previous is not None else code.id if code else None),
            issued_at=now, access_expires_at=now + timedelta(seconds=token["expires_in"]),
            refresh_expires_at=(now + timedelta(seconds=settings.refresh_token_ttl)
                                if token.get("refresh_token") else None),
            auth_time=origin.auth_time if origin is not None else None,
            amr=origin.amr if origin is not None else None,
        )
        tokens.add_event(event_values(
            "token.issued", at=now, origin=_origin(), client_id=client.client_id,
            account_id=user.id if user is not None else None,
            grant_type=grant_type or "", scope=token.get("scope", ""),
            with_refresh=bool(token.get("refresh_token"))))

    def authenticate_refresh_token(self, refresh_token):
        found = tokens.find_token(refresh_token, tokens.REFRESH, now=self.now())
        if found is None or not found.check_client(self.request.client):
            return None
        if found.row.refresh_used_at is not None:
            self._refresh_reused(found.row)
            return None
        return None if found.is_expired() or found.is_revoked() else found

    def revoke_old_credential(self, refresh_token):
        """Rotation: the presented refresh token is spent in the transaction that issues its successor."""
        def reused():  # a concurrent use won, or the token was revoked meanwhile
            self._refresh_reused(refresh_token.row)
            raise InvalidGrantError("The refresh token was already used.")

        if not tokens.spend_refresh(refresh_token.row, now=self.now(), on_conflict=reused):
            db.session.rollback()  # the successor must not survive a lost race
            reused()

    def _refresh_reused(self, row):
        revoked = tokens.revoke_grant(row, now=self.now())
        record("token.reuse", at=self.now(), origin=_origin(), account_id=row.account_id,
               client_id=row.client.client_id, kind="refresh_token", revoked=revoked)
        db.session.commit()
        log.warning("refresh token reused by client %s: family revoked (%d grant(s))", row.client.client_id,
                    revoked)

    def find_access_token(self, token_string):
        return tokens.find_token(token_string, tokens.ACCESS, now=self.now())

    # -- revocation (RFC 7009) and introspection (RFC 7662) ----------------------------------------------

    def query_token(self, token_string, token_type_hint):
        return tokens.find_any(token_string, token_type_hint, now=self.now())

    def revoke_token(self, token, request):
        if token.kind == tokens.REFRESH:
            tokens.revoke_grant(token.row, now=self.now())  # RFC 7009 §2.1: the grant's access tokens too
        else:
            tokens.revoke_access(token.row, now=self.now())
        record("token.revoked", at=self.now(), origin=_origin(), account_id=token.row.account_id,
               client_id=token.row.client.client_id, kind=token.kind, via="revocation")

    def check_permission(self, token, client, request) -> bool:
        return token.check_client(client)

    def introspect_token(self, token) -> dict:
        row = token.row
        data = {"active": True, "client_id": row.client.client_id, "scope": row.scope,
                "iss": self.get_issuer(), "aud": row.client.client_id, "iat": unix(row.issued_at),
                "exp": unix(token.expires_at)}
        if token.kind == tokens.ACCESS:
            data["token_type"] = "Bearer"
        if row.account is not None:
            data["sub"] = row.account.subject
        return data

    # -- OpenID Connect: claims and ID tokens (OIDC Core §2, §5) -------------------------------------------

    def generate_user_info(self, user, scope):
        return user_claims(user, scope)

    def encode_id_token(self, token, request):
        return self.id_token(token, client=request.client, user=request.user, code=request.authorization_code,
                             previous=request.refresh_token)

    def id_token(self, token, *, client, user, code=None, previous=None) -> str:
        """The ID token of a token response issued to ``client`` for ``user``, from the authorization
        ``code`` or the ``previous`` refresh token (the sign-in it remembers: ``auth_time``, ``amr``)."""
        settings = self.services.settings
        origin = code if code is not None else previous.row
        return build_id_token(issuer=self.get_issuer(), audience=client.client_id,
                              subject=user.subject, auth_time=origin.auth_time, amr=origin.amr,
                              nonce=code.nonce if code is not None else None,
                              access_token=token.get("access_token"), now=self.now(),
                              ttl=settings.id_token_ttl, key=self.keys.signing_key(),
                              extra=id_token_claims(user, token.get("scope")))

    def resolve_private_key(self):
        return self.keys.signing_key().private_key

    # -- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) ----------------------------------------

    def get_server_jwks(self):
        return self.keys.public_keyset()

    def get_algorithms(self) -> list[str]:
        return [ALG]

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint):
        # Without id_token_hint only a client named by client_id, whose registered URI matched exactly, and
        # only after the customer confirmed on our page (the logout view asks first).
        return bool(request.payload.data.get("client_id"))

    def end_session(self, end_session_request):
        end_browser_session(session.get("sid"), now=self.now())
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang


def _origin() -> Origin:
    """The address and user agent of the request being served (the relying party's, at the token endpoint):
    Flask's request, or the environ the WSGI-level fast path (:mod:`idp.oidc.fastpath`) serves."""
    if has_request_context():
        environ = flask_request.environ
    else:
        environ = g.get("fast_environ") if has_app_context() else None
        if environ is None:
            return Origin()
    return Origin(ip=environ.get("REMOTE_ADDR"), user_agent=environ.get("HTTP_USER_AGENT", "")[:300] or None)
