"""Demo: the ДМС API, a resource server of the provider that validates its JWT access tokens (RFC 9068)
locally with the provider's JWKS and answers ``GET /policies``. It imports nothing from ``idp``.

    python -m clients.dms_api      # DMS_API_ISSUER, DMS_API_AUDIENCE, DMS_API_PORT (5002)
"""
from clients.dms_api.app import ApiConfig, create_app
from clients.dms_api.tokens import InvalidToken, ProviderUnavailable, Validator

__all__ = ["ApiConfig", "InvalidToken", "ProviderUnavailable", "Validator", "create_app"]
