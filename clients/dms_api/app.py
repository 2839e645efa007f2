"""The ДМС API: ``GET /policies`` answers the customer's policies to a bearer of the provider's JWT access
token (RFC 9068), validated here without asking the provider (:mod:`clients.dms_api.tokens`).

The policies are the token's own ``policies`` claim: the provider puts it in access tokens (as in ID
tokens) when the ``policies`` scope was granted. A token without that scope is ``insufficient_scope``
(403); no token, or one that is not valid here, is ``invalid_token`` (401) with the RFC 6750 challenge;
a provider that cannot be reached for its keys is 503. Every answer is JSON.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, jsonify, request

from clients.dms_api.tokens import InvalidToken, ProviderUnavailable, Validator, http_fetch

log = logging.getLogger(__name__)

SCOPE = "policies"
REALM = "dms-api"


@dataclass(frozen=True)
class ApiConfig:
    #: The provider's issuer identifier (its discovery document is read from there).
    issuer: str
    #: This API's resource URI, registered as an audience of the clients that call it (RFC 8707).
    audience: str


def create_app(config: ApiConfig, *, fetch=None, clock=None) -> Flask:
    """The API; ``fetch(url) -> dict`` reads the provider's documents (HTTP by default), ``clock()`` is
    the time in seconds (the wall clock by default)."""
    app = Flask(__name__)
    kwargs = {"clock": clock} if clock is not None else {}
    validator = Validator(issuer=config.issuer, audience=config.audience, fetch=fetch or http_fetch(),
                          **kwargs)
    app.extensions["dms_api"] = validator

    def refuse(status: int, error: str | None, description: str, scope: str | None = None):
        challenge = f'Bearer realm="{REALM}"'
        if error:
            challenge += f', error="{error}", error_description="{description}"'
        if scope:
            challenge += f', scope="{scope}"'
        response = jsonify({"error": error or "invalid_token", "error_description": description})
        response.status_code = status
        response.headers["WWW-Authenticate"] = challenge
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/policies")
    def policies():
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return refuse(401, None, "An Authorization: Bearer access token is required.")
        try:
            claims = validator.validate(value.strip())
        except InvalidToken as exc:
            log.info("access token refused: %s", exc)
            return refuse(401, "invalid_token", "The access token is not valid here.")
        except ProviderUnavailable as exc:
            log.warning("%s", exc)
            response = jsonify({"error": "temporarily_unavailable",
                                "error_description": "The provider's keys cannot be read."})
            response.status_code = 503
            return response
        if SCOPE not in str(claims.get("scope", "")).split() or not isinstance(claims.get(SCOPE), list):
            return refuse(403, "insufficient_scope", "The access token lacks the policies scope.",
                          scope=SCOPE)
        response = jsonify({"sub": claims["sub"], "policies": claims[SCOPE]})
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(404)
    @app.errorhandler(405)
    def http_error(exc):
        return jsonify({"error": "not_found" if exc.code == 404 else "method_not_allowed"}), exc.code

    return app
