"""The non-interactive endpoints, each Authlib's class plus the shared hooks:

* UserInfo (OIDC Core §5.3): the bearer token in the ``Authorization`` header (GET or POST) or in a
  form-encoded POST body (RFC 6750 §2.2); scope ``openid`` required;
* token revocation (RFC 7009): confidential clients authenticate, public clients name themselves;
* token introspection (RFC 7662): confidential clients, for tokens issued to themselves;
* end session (OpenID Connect RP-Initiated Logout 1.0).
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.integrations.flask_oauth2.signals import token_authenticated
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import g
from flask import request as flask_request

from idp.oidc import records, tokens
from idp.oidc.hooks import ProviderHooks
from idp.oidc.requests import BearerRequest


class MissingBearerToken(MissingAuthorizationError):
    """No bearer token at all. RFC 6750 §3.1: the challenge then carries no error code (a bare ``Bearer``);
    the JSON body says ``invalid_token`` (a registered code, as the admin and policies APIs answer), not
    Authlib's unregistered ``missing_authorization``."""

    error = "invalid_token"

    def get_headers(self):
        return OAuth2Error.get_headers(self) + [("WWW-Authenticate", "Bearer")]


class AccessTokenValidator(ProviderHooks, BearerTokenValidator):
    def authenticate_token(self, token_string):
        return self.find_access_token(token_string)


class BearerProtector(ResourceProtector):
    """Authlib's protector reading the bearer token from the ``Authorization`` header (RFC 6750 §2.1) or
    a form-encoded POST body (§2.2); its challenges name the scheme ``Bearer`` (§3)."""

    def acquire_token(self, scopes=None, **kwargs):
        """Authlib's, with a :class:`~idp.oidc.requests.BearerRequest` (no full URL made for nothing)."""
        kwargs["scopes"] = scopes
        for claim in kwargs:
            if isinstance(kwargs[claim], str):
                kwargs[claim] = [kwargs[claim]]
        token = self.validate_request(request=BearerRequest(flask_request._get_current_object()), **kwargs)
        token_authenticated.send(self, token=token)
        g.authlib_server_oauth2_token = token
        return token

    def parse_request_authorization(self, request):
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


class UserInfo(ProviderHooks, UserInfoEndpoint):
    pass


class _TokenWithClient:
    """An endpoint that authenticates a client, then reads the token the request names: both come from one
    lookup (:func:`idp.oidc.records.expecting_token`), in the order :func:`idp.oidc.tokens.find_any` tries."""

    def create_endpoint_response(self, request):
        form = request.form
        refresh = form.get("token_type_hint") == tokens.REFRESH
        with records.expecting_token(tokens.hash_of(form.get("token")), refresh=refresh):
            return super().create_endpoint_response(request)


class Revocation(ProviderHooks, _TokenWithClient, RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class Introspection(ProviderHooks, _TokenWithClient, IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class EndSession(ProviderHooks, EndSessionEndpoint):
    pass


def build_protector() -> BearerProtector:
    protector = BearerProtector()
    protector.register_token_validator(AccessTokenValidator())
    return protector
