"""Discovery (OpenID Connect Discovery 1.0 §3, §4) and the JWKS (RFC 7517 §5)."""
from __future__ import annotations

import requests


def test_discovery_document(live_server, settings):
    response = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    data = response.json()
    issuer = settings.issuer
    assert data["issuer"] == issuer == live_server.url
    for name, path in (("authorization_endpoint", "/oauth/authorize"), ("token_endpoint", "/oauth/token"),
                       ("userinfo_endpoint", "/oauth/userinfo"), ("jwks_uri", "/.well-known/jwks.json"),
                       ("revocation_endpoint", "/oauth/revoke"),
                       ("introspection_endpoint", "/oauth/introspect"),
                       ("end_session_endpoint", "/oauth/logout")):
        assert data[name] == issuer + path
    assert data["response_types_supported"] == ["code"]
    assert data["subject_types_supported"] == ["public"]
    assert data["id_token_signing_alg_values_supported"] == ["RS256"]
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert set(data["scopes_supported"]) == {"openid", "profile", "email", "phone", "offline_access", "policies"}
    assert set(data["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                  "none"}
    assert {"sub", "email", "email_verified", "phone_number", "phone_number_verified"} <= set(
        data["claims_supported"])
    assert data["authorization_response_iss_parameter_supported"] is True


def test_discovery_validates_against_the_spec_model(live_server):
    # Authlib's metadata model is used here only as a checklist of the spec's REQUIRED members.
    from authlib.oidc.discovery import OpenIDProviderMetadata

    data = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=10).json()
    OpenIDProviderMetadata(data).validate()


def test_jwks_publishes_the_public_signing_key_only(live_server):
    keys = requests.get(live_server.url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert set(key) == {"kty", "alg", "use", "kid", "n", "e"}
