"""The authorization server: Authlib's Flask server with the provider's hooks, grants and endpoints.

    AuthorizationServer(ProviderHooks, authlib…AuthorizationServer)
    ├── grants      AuthorizationCodeGrant [+ OpenIDCodeExtension, S256CodeChallenge]
    │               RefreshTokenGrant      [+ OpenIDRefreshExtension]
    │               ClientCredentialsGrant
    ├── endpoints   UserInfo (with BearerProtector), Revocation, Introspection, EndSession
    └── extension   AuthorizationResponseIssuer (RFC 9207)

``init_oidc(app)`` builds one per app and keeps it, with the key store, in ``app.extensions``.
"""
from __future__ import annotations

import logging

from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from flask import Flask
from flask import request as flask_request

from idp.keys import KeyStore
from idp.oidc.bearer import PROTECTOR
from idp.oidc.endpoints import EndSession, Introspection, Revocation, UserInfo, build_protector
from idp.oidc.grants import (AuthorizationCodeGrant, AuthorizationResponseIssuer, ClientCredentialsGrant,
                             OpenIDCodeExtension, OpenIDRefreshExtension, RefreshTokenGrant,
                             S256CodeChallenge)
from idp.oidc.hooks import ProviderHooks
from idp.oidc.requests import BearerRequest, IssuerRequest

log = logging.getLogger(__name__)

class AuthorizationServer(ProviderHooks, FlaskAuthorizationServer):
    def create_oauth2_request(self, request):
        return IssuerRequest(flask_request._get_current_object(), self.get_issuer())

    def create_json_request(self, request):
        return BearerRequest(flask_request._get_current_object())


def build_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()
    server.init_app(app)
    server.register_token_generator("default", server.generate_bearer_token)
    for method in ("client_secret_basic", "client_secret_post", "none"):
        server.register_client_auth_method(method, getattr(server, "authenticate_" + method))
    server.register_grant(AuthorizationCodeGrant, [OpenIDCodeExtension(require_nonce=False),
                                                   S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant, [OpenIDRefreshExtension()])
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(UserInfo(resource_protector=build_protector()))
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    server.register_endpoint(EndSession)
    server.issuer_parameter = AuthorizationResponseIssuer()
    server.register_extension(server.issuer_parameter)
    return server


def init_oidc(app: Flask) -> AuthorizationServer:
    """Load the signing keys, build the server, register the endpoints' blueprint."""
    services = app.extensions["idp"]
    settings = services.settings
    # Authlib logs whole token responses at DEBUG: never let a debug setting put tokens in the logs.
    authlib_log = logging.getLogger("authlib")
    authlib_log.setLevel(max(authlib_log.getEffectiveLevel(), logging.INFO))
    app.extensions["idp.keys"] = KeyStore(settings.keys_dir, clock=services.clock,
                                          reload_interval=settings.keys_reload_interval,
                                          create_if_missing=not settings.production)
    if settings.production and not app.extensions["idp.keys"].published():
        log.error("no signing key in %s (IDP_KEYS_DIR): ID tokens cannot be issued until `idp init` "
                  "or `idp keys rotate` creates one", settings.keys_dir)
    server = build_server(app)
    app.extensions["idp.oidc"] = server
    app.extensions[PROTECTOR] = build_protector()  # for token-guarded APIs (idp.oidc.bearer)

    from idp.oidc.views import bp

    app.register_blueprint(bp)
    return server
