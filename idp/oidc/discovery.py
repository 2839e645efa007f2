"""The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414 §2), built once per app.

``issuer`` is exactly ``IDP_ISSUER``; every endpoint is an absolute URL under it.
"""
from __future__ import annotations

from idp.clients import STANDARD_SCOPES
from idp.i18n import SUPPORTED
from idp.keys import ALG
from idp.oidc.scopes import CLAIMS_SUPPORTED, POLICIES_SCOPE

#: Endpoint paths, relative to the issuer; the views are registered at the same paths.
PATHS = {
    "authorization_endpoint": "/oauth/authorize",
    "token_endpoint": "/oauth/token",
    "userinfo_endpoint": "/oauth/userinfo",
    "jwks_uri": "/.well-known/jwks.json",
    "revocation_endpoint": "/oauth/revoke",
    "introspection_endpoint": "/oauth/introspect",
    "end_session_endpoint": "/oauth/logout",
}
SECRET_METHODS = ["client_secret_basic", "client_secret_post"]


def provider_metadata(issuer: str) -> dict:
    metadata = {"issuer": issuer}
    metadata.update({name: issuer + path for name, path in PATHS.items()})
    metadata.update(
        scopes_supported=[*STANDARD_SCOPES, POLICIES_SCOPE],
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[ALG],
        token_endpoint_auth_methods_supported=SECRET_METHODS + ["none"],
        revocation_endpoint_auth_methods_supported=SECRET_METHODS + ["none"],
        introspection_endpoint_auth_methods_supported=SECRET_METHODS,
        code_challenge_methods_supported=["S256"],
        claims_supported=list(CLAIMS_SUPPORTED),
        claim_types_supported=["normal"],
        prompt_values_supported=["none", "login", "consent"],
        ui_locales_supported=list(SUPPORTED),
        claims_parameter_supported=False,
        request_parameter_supported=False,
        request_uri_parameter_supported=False,
        require_request_uri_registration=False,
        authorization_response_iss_parameter_supported=True,
        frontchannel_logout_supported=False,
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
    )
    return metadata
