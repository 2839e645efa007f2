"""The Authlib hooks of the authorization endpoint and of RP-initiated logout, in one mixin shared by the
server, the code grant and its extensions (see :mod:`idp.oidc.server`).

Authlib calls these by name. Hooks never commit: the authorization view owns the transaction.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, session
from sqlalchemy import select

from idp.clients import find_active_client
from idp.extensions import db
from idp.keys import ALG
from idp.oidc.models import AuthorizationCode, token_hash
from idp.oidc.backchannel import queue_logouts, send_now
from idp.sessions import end_session as end_browser_session, remember_client


class ProviderHooks:
    """Authlib's extension points for the authorization endpoint and logout, implemented once."""

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

    # -- clients (RFC 6749 §2) ------------------------------------------------------------------------

    def query_client(self, client_id):
        return find_active_client(client_id)

    # -- authorization codes (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2) --------------------------------

    def exists_nonce(self, nonce, request) -> bool:
        """A nonce is refused while a code issued with it could still be exchanged; later the same
        authorization URL (a bookmark, a reload) works again. The RP's own nonce check is the real defence."""
        query = select(AuthorizationCode.id).where(AuthorizationCode.client_pk == request.client.id,
                                                   AuthorizationCode.nonce == nonce,
                                                   AuthorizationCode.expires_at > self.now()).limit(1)
        return db.session.execute(query).first() is not None

    def save_authorization_code(self, code, request):
        now = self.now()
        data = request.payload.data
        signed_in = request.browser_session  # set by the authorize view: the sign-in behind this code
        db.session.add(AuthorizationCode(
            code_hash=token_hash(code), client_pk=request.client.id, account_id=request.user.id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            nonce=data.get("nonce") or None, code_challenge=data.get("code_challenge") or None,
            code_challenge_method=data.get("code_challenge_method") or None,
            resource=data.get("resource") or None,  # checked by idp.oidc.server.ResourceIndicator
            auth_time=signed_in.auth_time, amr=signed_in.amr, sid=signed_in.sid, created_at=now,
            expires_at=now + timedelta(seconds=self.services.settings.authorization_code_ttl)))
        remember_client(signed_in, request.client.id, now=now)

    # -- RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) ------------------------------------

    def get_server_jwks(self):
        return self.keys.public_keyset()

    def get_algorithms(self) -> list[str]:
        return [ALG]

    def is_post_logout_redirect_uri_legitimate(self, request, post_logout_redirect_uri, client, logout_hint):
        # Without id_token_hint only a client named by client_id, whose registered URI matched exactly, and
        # only after the customer confirmed on our page (the logout view asks first).
        return bool(request.payload.data.get("client_id"))

    def end_session(self, end_session_request):
        now = self.now()
        logouts = queue_logouts(self.services, end_browser_session(session.get("sid"), now=now), now=now,
                                via="rp_logout")
        db.session.commit()
        send_now(self.services, logouts)
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
