"""Authlib's request objects for the provider's endpoints, made from Flask's request without the work
nobody uses (the full URL, counting the headers)."""
from __future__ import annotations

from authlib.integrations.flask_oauth2.requests import (FlaskJsonPayload, FlaskJsonRequest, FlaskOAuth2Payload,
                                                        FlaskOAuth2Request)
from authlib.oauth2.rfc6749 import JsonRequest, OAuth2Request


class IssuerRequest(FlaskOAuth2Request):
    """Authlib's request, its URL taken from the configured issuer rather than the socket.

    Authlib refuses plain-http URLs (``InsecureTransportError``); behind a TLS-terminating proxy the
    socket says http although the customer used https. The issuer is validated at start-up (https in
    production), so it is the right thing to judge the transport by. The transport depends on the
    scheme and host alone, so the issuer is what is checked; the request's full URL is made only if
    something asks for it (nothing does on the token, introspection and revocation endpoints).
    """

    def __init__(self, request, issuer: str):
        OAuth2Request.__init__(self, method=request.method, uri=issuer)
        self.headers = request.headers  # after __init__, which would count them (``headers or {}``)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)

    @property
    def uri(self) -> str:
        return self._issuer + self._request.full_path.rstrip("?")

    @uri.setter
    def uri(self, issuer: str) -> None:
        self._issuer = issuer


class BearerRequest(FlaskJsonRequest):
    """Authlib's request for a resource (UserInfo, the token-guarded APIs): method and headers, the body
    and the URL read only if asked (a bearer token is looked for in the headers, or in a form body)."""

    def __init__(self, request):
        JsonRequest.__init__(self, request.method, None)
        self.headers = request.headers
        self._request = request
        self.payload = FlaskJsonPayload(request)

    @property
    def uri(self) -> str:
        return self._request.url

    @uri.setter
    def uri(self, _value) -> None:
        pass
