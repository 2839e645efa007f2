"""Authlib's request objects for the provider's endpoints, made from Flask's request without the work
nobody uses (the full URL, counting the headers)."""
from __future__ import annotations

import os

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2.requests import (FlaskJsonPayload, FlaskJsonRequest, FlaskOAuth2Payload,
                                                        FlaskOAuth2Request)
from authlib.oauth2.rfc6749 import InsecureTransportError, JsonRequest, OAuth2Request

#: What ``OAuth2Request.__init__`` sets, made once; the transport check is :func:`check_transport`'s.
_BLANK = {k: v for k, v in vars(OAuth2Request("POST", "https://issuer.invalid/")).items() if k != "uri"}
_secure: dict[str, bool] = {}


def check_transport(issuer: str) -> None:
    """Authlib's check of a request URL (``InsecureTransportError`` unless https, or http on a loopback
    host, or ``AUTHLIB_INSECURE_TRANSPORT`` set), judged once per issuer: scheme and host are the issuer's."""
    if os.environ.get("AUTHLIB_INSECURE_TRANSPORT"):
        return
    secure = _secure.get(issuer)
    if secure is None:
        secure = _secure[issuer] = is_secure_transport(issuer)  # the variable is unset: depends on the URL only
    if not secure:
        raise InsecureTransportError()


class IssuerRequest(FlaskOAuth2Request):
    """Authlib's request, its URL taken from the configured issuer rather than the socket.

    Authlib refuses plain-http URLs (``InsecureTransportError``); behind a TLS-terminating proxy the
    socket says http although the customer used https. The issuer is validated at start-up (https in
    production), so it is the right thing to judge the transport by. The transport depends on the
    scheme and host alone, so the issuer is what is checked; the request's full URL is made only if
    something asks for it (nothing does on the token, introspection and revocation endpoints).
    """

    def __init__(self, request, issuer: str):
        check_transport(issuer)
        # OAuth2Request.__init__'s attributes (copies of mutable ones), without its check of the URL.
        self.__dict__.update({k: (v.copy() if isinstance(v, (dict, list)) else v) for k, v in _BLANK.items()})
        self.method = request.method
        self.uri = issuer
        self.headers = request.headers
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
