"""The authorization endpoint's server: Authlib's Flask server, its code grant and RP-initiated logout.

Authlib runs the interactive half of the protocol, on the pages application: validating an authorization
request (response type, redirect URI, scope, OpenID ``nonce``/``prompt``, PKCE's challenge through
:mod:`idp.oidc.pkce`), issuing the code, and ending the session (RP-Initiated Logout 1.0). The token
endpoint and the other machine endpoints are the protocol API's (:mod:`idp.oidc.protocol`); the code grant
registered here is for the authorization endpoint only (it never answers a token request).

    AuthorizationServer(ProviderHooks, authlib…AuthorizationServer)
    ├── grant       AuthorizationCodeGrant [+ OpenIDCodeExtension, PkceChallenge, ResourceIndicator]
    │                                                                                (authorization only)
    ├── endpoint    EndSession
    └── extension   AuthorizationResponseIssuer (RFC 9207)
"""
from __future__ import annotations

import logging
import secrets

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request, grants
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask
from flask import request as flask_request

from idp.oidc import access_tokens, pkce
from idp.oidc.hooks import ProviderHooks

log = logging.getLogger(__name__)


class IssuerRequest(OAuth2Request):
    """Authlib's request for a Flask request, its URL made from the configured issuer rather than the socket.

    Authlib refuses plain-http URLs (``InsecureTransportError``); behind a TLS-terminating proxy the socket
    says http although the customer used https. The issuer is validated at start-up (https in production),
    so it is the right thing to judge the transport by."""

    def __init__(self, request, issuer: str):
        super().__init__(request.method, issuer + request.full_path.rstrip("?"), headers=request.headers)
        self.flask_request = request
        self.payload = FlaskOAuth2Payload(request)

    @property
    def args(self):
        return self.flask_request.args

    @property
    def form(self):
        return self.flask_request.form


class AuthorizationServer(ProviderHooks, FlaskAuthorizationServer):
    def create_oauth2_request(self, request):
        return IssuerRequest(flask_request, self.get_issuer())


class AuthorizationCodeGrant(ProviderHooks, grants.AuthorizationCodeGrant):
    """The authorization endpoint's half of the code grant (RFC 6749 §4.1.1–4.1.2); the token request is
    :mod:`idp.oidc.protocol.grants.authorization_code`'s."""

    TOKEN_ENDPOINT_HTTP_METHODS: list[str] = []  # never chosen for a token request

    def generate_authorization_code(self) -> str:
        return secrets.token_urlsafe(32)


class OpenIDCodeExtension(ProviderHooks, OpenIDCode):
    """OpenID Connect's checks of the authorization request; ``nonce`` optional for the code flow
    (OIDC Core §3.1.2.1)."""


class PkceChallenge:
    """The authorization request's PKCE challenge, checked by :func:`idp.oidc.pkce.challenge_problem`."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    def check(self, grant, redirect_uri) -> None:
        payload = grant.request.payload
        data, datalist = payload.data, payload.datalist
        repeated = any(len(datalist.get(name, [])) > 1 for name in ("code_challenge", "code_challenge_method"))
        problem = pkce.challenge_problem(data.get("code_challenge"), data.get("code_challenge_method"),
                                         required=grant.request.client.requires_pkce, repeated=repeated)
        if problem is not None:
            raise InvalidRequestError(problem[1])


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the ``resource`` is malformed or not one the client may have tokens for."""

    error = "invalid_target"


class ResourceIndicator:
    """The authorization request's ``resource`` (RFC 8707 §2): at most once, and one of the client's
    audiences (:func:`idp.oidc.access_tokens.audience`, the token endpoint's rule), else ``invalid_target``
    at the redirect URI. The code keeps it (:meth:`ProviderHooks.save_authorization_code`). An empty one is
    as if omitted (RFC 6749 §3.1)."""

    def __call__(self, grant) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.check)

    def check(self, grant, redirect_uri) -> None:
        payload = grant.request.payload
        if len(payload.datalist.get("resource", [])) > 1:
            raise InvalidRequestError("Multiple 'resource' in request.")
        resource = payload.data.get("resource")
        if resource:
            try:
                access_tokens.audience(grant.request.client, resource)
            except access_tokens.InvalidResource as error:
                raise InvalidTargetError(str(error)) from None


class AuthorizationResponseIssuer(ProviderHooks, IssuerParameter):
    """``iss`` in every authorization response (RFC 9207 §2), against mix-up attacks."""


class EndSession(ProviderHooks, EndSessionEndpoint):
    """RP-Initiated Logout 1.0."""


def build_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()
    server.init_app(app)
    server.register_grant(AuthorizationCodeGrant, [OpenIDCodeExtension(require_nonce=False), PkceChallenge(),
                                                   ResourceIndicator()])
    server.register_endpoint(EndSession)
    server.issuer_parameter = AuthorizationResponseIssuer()
    server.register_extension(server.issuer_parameter)
    return server
