"""The protocol API's errors: each an OAuth error code, its HTTP status and its challenge header.

* token endpoint, introspection, revocation: RFC 6749 §5.2 (``invalid_request``, ``invalid_client`` with
  401 and ``WWW-Authenticate: Basic``, ``invalid_grant``, ``unauthorized_client``,
  ``unsupported_grant_type``, ``invalid_scope``), RFC 8707 §2 (``invalid_target``), RFC 7009 §2.2.1 /
  RFC 7662 (``unsupported_token_type``);
* UserInfo and the token-guarded APIs: RFC 6750 §3.1 (``invalid_token`` 401, ``insufficient_scope`` 403,
  ``invalid_request`` 400), the challenge ``WWW-Authenticate: Bearer …``; a request without any token
  gets a bare ``Bearer`` challenge (no error attribute, §3.1) and ``invalid_token`` in the JSON body.

The body is ``{"error": …, "error_description": …}`` (RFC 6749 §5.2); a description never contains a
double quote or anything but printable ASCII (it goes into a header too).
"""
from __future__ import annotations


class OAuthError(Exception):
    error = "invalid_request"
    status = 400

    def __init__(self, description: str | None = None):
        super().__init__(description or self.error)
        self.description = description

    def body(self) -> dict:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body

    def headers(self) -> list[tuple[str, str]]:
        return []


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401 with a challenge naming the scheme clients authenticate with here (Basic)."""

    error = "invalid_client"
    status = 401

    def headers(self) -> list[tuple[str, str]]:
        description = (self.description or "").replace('"', "|")
        return [("WWW-Authenticate", f'Basic error="{self.error}", error_description="{description}"')]


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


class InvalidTarget(OAuthError):
    """RFC 8707 §2: the ``resource`` is invalid or not one the client may have a token for."""

    error = "invalid_target"


class BearerError(OAuthError):
    """RFC 6750 §3.1: an error of a request to a protected resource, with its ``Bearer`` challenge."""

    error = "invalid_token"
    status = 401
    realm: str | None = None

    def __init__(self, description: str | None = None, *, realm: str | None = None, scope: str | None = None):
        super().__init__(description)
        self.realm, self.scope = realm, scope

    def challenge(self) -> str:
        parts = [f'realm="{self.realm}"'] if self.realm else []
        parts.append(f'error="{self.error}"')
        if self.description:
            parts.append(f'error_description="{self.description}"')
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(parts)

    def headers(self) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", self.challenge())]


class InvalidToken(BearerError):
    error = "invalid_token"


class MissingToken(BearerError):
    """No bearer token at all: the challenge carries no error attribute (RFC 6750 §3.1)."""

    def challenge(self) -> str:
        return f'Bearer realm="{self.realm}"' if self.realm else "Bearer"


class InsufficientScope(BearerError):
    error = "insufficient_scope"
    status = 403


class BearerRequestError(BearerError):
    """A malformed request to a protected resource (RFC 6750 §3.1 ``invalid_request``, 400)."""

    error = "invalid_request"
    status = 400


def for_pkce(problem: tuple[str, str]) -> OAuthError:
    """The token endpoint's error for a PKCE problem (:mod:`idp.oidc.pkce`)."""
    error, description = problem
    return InvalidGrant(description) if error == "invalid_grant" else InvalidRequest(description)
