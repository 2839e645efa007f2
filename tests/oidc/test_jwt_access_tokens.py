"""JWT access tokens (RFC 9068) for clients registered with ``access_token_format`` jwt, through real HTTP:
the token's header and claims checked against the published JWKS by an independent reader (joserfc, as
a resource server would), the audience from RFC 8707 ``resource``, refresh, and UserInfo, introspection
and revocation taking both formats."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from joserfc.jwt import JWTClaimsRegistry

from idp.oidc.models import unix
from tests.conftest import T0
from tests.oidc.conftest import signed_in_code

NOW = unix(T0)
API = "https://api.dms.example/"
REPORTS = "https://reports.dms.example/v1"


def read_jwt(rp, value: str) -> tuple[dict, dict]:
    """The header and claims of a JWT access token, its signature checked with the provider's JWKS."""
    token = jwt.decode(value, rp.jwks(), algorithms=["RS256"])
    return dict(token.header), dict(token.claims)


@pytest.fixture
def jwt_rp(make_client):
    return make_client(first_party=True, access_token_format="jwt", audiences=[API, REPORTS])


def tokens_for(rp, flow, scope="openid email offline_access", **extra) -> dict:
    request = rp.authorization(scope=scope)
    response = rp.exchange(signed_in_code(flow, rp, request), request, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_jwt_client_gets_a_signed_at_jwt_with_the_rfc_9068_claims(jwt_rp, flow, customer):
    token = tokens_for(jwt_rp, flow)
    header, claims = read_jwt(jwt_rp, token["access_token"])
    kids = [key["kid"] for key in jwt_rp.http.get(jwt_rp.metadata["jwks_uri"]).json()["keys"]]
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"] in kids
    JWTClaimsRegistry(now=NOW, leeway=0, iss={"essential": True, "value": jwt_rp.issuer},
                      aud={"essential": True, "value": API}, exp={"essential": True}).validate(claims)
    assert claims["sub"] == customer.subject and claims["client_id"] == jwt_rp.client_id
    assert claims["aud"] == API  # the first registered audience: the default
    assert claims["scope"] == token["scope"] == "openid email offline_access"
    assert claims["iat"] == NOW and claims["exp"] == NOW + token["expires_in"] and claims["auth_time"] == NOW
    assert len(claims["jti"]) >= 43
    # The ID token's at_hash is of the JWT as sent.
    jwt_rp.id_token_claims(token["id_token"], now=NOW, access_token=token["access_token"])
    assert token["refresh_token"].count(".") == 0  # refresh tokens stay opaque


def test_an_opaque_client_still_gets_opaque_tokens(rp, flow, customer):
    token = tokens_for(rp, flow)
    assert token["access_token"].count(".") == 0


def test_the_resource_parameter_chooses_a_registered_audience(jwt_rp, flow, customer):
    token = tokens_for(jwt_rp, flow, resource=REPORTS)
    assert read_jwt(jwt_rp, token["access_token"])[1]["aud"] == REPORTS
    assert jwt_rp.introspect(token["access_token"])["aud"] == REPORTS


@pytest.mark.parametrize("resource", ["https://elsewhere.example/", API + "#x", "not a uri", "relative/path",
                                      "http://[::1", API.upper(), "\u0434\u043c\u0441" * 500])
def test_a_resource_outside_the_audiences_is_invalid_target_and_leaves_the_code_unspent(jwt_rp, flow, customer,
                                                                                          resource):
    request = jwt_rp.authorization(scope="openid")
    code = signed_in_code(flow, jwt_rp, request)
    refused = jwt_rp.exchange(code, request, resource=resource)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    assert refused.headers["Cache-Control"] == "no-store"
    assert jwt_rp.exchange(code, request).status_code == 200  # the code was not spent by the refusal


def test_an_opaque_client_is_held_to_its_audiences_too(rp, flow, customer):
    request = rp.authorization(scope="openid")
    refused = rp.exchange(signed_in_code(flow, rp, request), request, resource=API)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


def test_without_audiences_the_audience_is_the_client_id(make_client, flow, customer):
    own = make_client(first_party=True, access_token_format="jwt")
    token = tokens_for(own, flow, scope="openid")
    assert read_jwt(own, token["access_token"])[1]["aud"] == own.client_id


def test_refresh_of_a_jwt_client_gives_a_new_jwt(jwt_rp, flow, customer):
    first = tokens_for(jwt_rp, flow)
    response = jwt_rp.refresh(first["refresh_token"])
    assert response.status_code == 200, response.text
    second = response.json()
    _, before = read_jwt(jwt_rp, first["access_token"])
    _, after = read_jwt(jwt_rp, second["access_token"])
    assert after["jti"] != before["jti"] and after["sub"] == before["sub"] and after["aud"] == API
    assert after["auth_time"] == before["auth_time"]  # the sign-in the refresh token remembers
    assert jwt_rp.userinfo(second["access_token"]).status_code == 200
    narrowed = jwt_rp.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"],
                             "resource": REPORTS}).json()
    assert read_jwt(jwt_rp, narrowed["access_token"])[1]["aud"] == REPORTS
    refused = jwt_rp.token({"grant_type": "refresh_token", "refresh_token": narrowed["refresh_token"],
                            "resource": "https://elsewhere.example/"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


@pytest.mark.parametrize("access_token_format", ["opaque", "jwt"])
def test_userinfo_introspection_and_revocation_take_both_formats(make_client, flow, customer,
                                                                 access_token_format):
    rp = make_client(first_party=True, access_token_format=access_token_format, audiences=[API])
    token = tokens_for(rp, flow)
    access = token["access_token"]
    assert (access.count(".") == 2) == (access_token_format == "jwt")

    info = rp.userinfo(access)
    assert info.status_code == 200 and info.json()["sub"] == customer.subject
    assert rp.userinfo(access, "post_body").json()["email"] == "client@example.com"
    introspected = rp.introspect(access)
    assert introspected["active"] is True and introspected["sub"] == customer.subject
    assert introspected["client_id"] == rp.client_id and introspected["token_type"] == "Bearer"
    assert introspected["aud"] == (API if access_token_format == "jwt" else rp.client_id)
    # The hint names the other kind: the token is found all the same (RFC 7662 §2.1).
    hinted = rp.http.post(rp.metadata["introspection_endpoint"], auth=(rp.client_id, rp.client_secret),
                          data={"token": access, "token_type_hint": "refresh_token"}).json()
    assert hinted["active"] is True

    assert rp.revoke(access).status_code == 200
    assert rp.introspect(access) == {"active": False}
    refused = rp.userinfo(access)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    # The refresh token is untouched by revoking the access token alone (RFC 7009 §2.1).
    assert rp.introspect(token["refresh_token"])["active"] is True


def test_a_revoked_jwt_still_verifies_locally_until_it_expires(jwt_rp, flow, customer):
    """What the README warns about: a resource server validating locally cannot see a revocation."""
    access = tokens_for(jwt_rp, flow)["access_token"]
    jwt_rp.revoke(access)
    assert jwt_rp.introspect(access) == {"active": False}
    _, claims = read_jwt(jwt_rp, access)
    JWTClaimsRegistry(now=NOW, leeway=0, exp={"essential": True}).validate(claims)  # still "valid" there


def test_a_jwt_of_another_client_is_inactive_at_introspection(jwt_rp, make_client, flow, customer):
    other = make_client(first_party=True)
    access = tokens_for(jwt_rp, flow)["access_token"]
    assert other.introspect(access) == {"active": False}
    assert other.revoke(access).status_code == 400  # invalid_grant: not its token


def test_forged_and_foreign_jwts_name_no_token(jwt_rp, flow, customer):
    token = tokens_for(jwt_rp, flow)
    header, claims = read_jwt(jwt_rp, token["access_token"])

    stranger = RSAKey.generate_key(2048, parameters={"kid": header["kid"]})
    forged = jwt.encode(header, claims, stranger, algorithms=["RS256"])  # the same claims, another key
    tampered_payload = jwt.encode(header, {**claims, "sub": "someone-else"}, stranger, algorithms=["RS256"])
    head, _, signature = token["access_token"].split(".")
    swapped = base64.urlsafe_b64encode(json.dumps({**claims, "scope": "openid policies"}).encode()).rstrip(b"=")
    tampered = f"{head}.{swapped.decode()}.{signature}"
    none = base64.urlsafe_b64encode(json.dumps({"typ": "at+jwt", "alg": "none"}).encode()).rstrip(b"=")
    unsigned = f"{none.decode()}.{swapped.decode()}."  # alg none: never accepted
    for value in (forged, tampered_payload, tampered, token["id_token"], "a.b.c", "x" * 20000 + ".a.b",
                  claims["jti"], unsigned, "..", "e30.e30.e30"):  # the jti is no secret: never a token
        response = jwt_rp.userinfo(value)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token", value[:40]
        assert jwt_rp.introspect(value) == {"active": False}
        assert jwt_rp.revoke(value).status_code == 200  # unknown: 200 all the same (RFC 7009 §2.2)
    assert jwt_rp.userinfo(token["access_token"]).status_code == 200  # none of that revoked the real one


def test_client_credentials_jwt_names_the_client_as_subject(make_client):
    machine = make_client(grant_types=["client_credentials"], scopes=["reports.read"], access_token_format="jwt",
                          audiences=[REPORTS])
    response = machine.token({"grant_type": "client_credentials", "scope": "reports.read"})
    assert response.status_code == 200, response.text
    header, claims = read_jwt(machine, response.json()["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["sub"] == claims["client_id"] == machine.client_id and claims["aud"] == REPORTS
    assert claims["scope"] == "reports.read" and "auth_time" not in claims
    assert machine.introspect(response.json()["access_token"])["active"] is True
    refused = machine.token({"grant_type": "client_credentials", "resource": API})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


def test_the_token_guarded_admin_api_takes_a_jwt(app, live_server, make_client):
    admin = make_client(grant_types=["client_credentials"], scopes=["admin"], access_token_format="jwt")
    access = admin.token({"grant_type": "client_credentials", "scope": "admin"}).json()["access_token"]
    assert access.count(".") == 2
    response = requests.get(live_server.url + "/api/admin/clients", headers={"Authorization": f"Bearer {access}"},
                            timeout=10)
    assert response.status_code == 200, response.text
    admin.revoke(access)
    assert requests.get(live_server.url + "/api/admin/clients", headers={"Authorization": f"Bearer {access}"},
                        timeout=10).status_code == 401


def test_a_client_switched_to_jwt_gets_jwts_while_its_opaque_tokens_keep_working(app, rp, flow, customer):
    from idp.clients import update_client
    from idp.extensions import db

    opaque = tokens_for(rp, flow)["access_token"]
    with app.app_context():
        update_client(rp.client_id, access_token_format="jwt", audiences=[API], now=app.extensions["idp"].clock.now())
        db.session.commit()
    switched = tokens_for(rp, flow)["access_token"]
    assert read_jwt(rp, switched)[1]["aud"] == API
    assert rp.userinfo(opaque).status_code == 200 and rp.userinfo(switched).status_code == 200


# -- registration ------------------------------------------------------------------------------------------


def test_the_cli_registers_and_updates_the_format_and_audiences(run_cli):
    result = run_cli("clients", "create", "--name", "ДМС API", "--redirect-uri", "https://dms.example/cb",
                     "--client-id", "dms-api", "--access-token-format", "jwt", "--audience", API,
                     "--audience", REPORTS, "--audience", API, "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["access_token_format"] == "jwt" and created["audiences"] == [API, REPORTS]

    result = run_cli("clients", "update", "dms-api", "--audience", REPORTS, "--json")
    assert json.loads(result.output)["audiences"] == [REPORTS]
    assert json.loads(result.output)["access_token_format"] == "jwt"  # not given: unchanged
    result = run_cli("clients", "update", "dms-api", "--access-token-format", "opaque", "--no-audiences", "--json")
    updated = json.loads(result.output)
    assert updated["access_token_format"] == "opaque" and updated["audiences"] == []

    default = json.loads(run_cli("clients", "create", "--name", "Другой", "--redirect-uri",
                                 "https://other.example/cb", "--json").output)
    assert default["access_token_format"] == "opaque" and default["audiences"] == []


@pytest.mark.parametrize("args", [["--audience", "https://api.example/#frag"], ["--audience", "api.example"],
                                  ["--audience", "https://api .example/"]])
def test_the_cli_refuses_a_bad_audience(run_cli, args):
    result = run_cli("clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                     "--access-token-format", "jwt", *args, "--json")
    assert result.exit_code != 0
    assert "client.audience.invalid" in result.output


def test_the_cli_refuses_an_unknown_format(run_cli):
    result = run_cli("clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
                     "--access-token-format", "paseto")
    assert result.exit_code == 2 and "paseto" in result.output


def test_the_domain_refuses_bad_values_with_a_code(app):
    from idp.clients import InvalidClientSettings, create_client

    services = app.extensions["idp"]
    with app.app_context():
        for fields, code in (({"access_token_format": "JWT"}, "client.access_token_format.invalid"),
                             ({"audiences": [API] * 21}, "client.audience.too_many"),
                             ({"audiences": ["https://a.example/" + "x" * 2000]}, "client.audience.invalid")):
            with pytest.raises(InvalidClientSettings) as refused:
                create_client(services.settings, name="X", redirect_uris=["https://x.example/cb"],
                              now=services.clock.now(), **fields)
            assert refused.value.code == code


# -- resource at the authorization request (RFC 8707 §2) ----------------------------------------------------


def refresh_with(rp, refresh_token: str, **extra) -> requests.Response:
    return rp.token({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})


def test_a_resource_at_the_authorization_request_is_the_audience_and_the_refresh_family_keeps_it(
        jwt_rp, flow, customer):
    request = jwt_rp.authorization(scope="openid offline_access", resource=REPORTS)
    first = jwt_rp.exchange(signed_in_code(flow, jwt_rp, request), request)  # no resource: the code's
    assert first.status_code == 200, first.text
    first = first.json()
    assert read_jwt(jwt_rp, first["access_token"])[1]["aud"] == REPORTS
    assert jwt_rp.introspect(first["access_token"])["aud"] == REPORTS

    second = jwt_rp.refresh(first["refresh_token"])  # no resource: the same audience, not the default
    assert second.status_code == 200, second.text
    second = second.json()
    assert read_jwt(jwt_rp, second["access_token"])[1]["aud"] == REPORTS

    refused = refresh_with(jwt_rp, second["refresh_token"], resource=API)  # registered, but not this grant's
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    assert refused.headers["Cache-Control"] == "no-store"
    third = refresh_with(jwt_rp, second["refresh_token"], resource=REPORTS)  # the refusal spent nothing
    assert third.status_code == 200, third.text
    assert read_jwt(jwt_rp, third.json()["access_token"])[1]["aud"] == REPORTS
    assert jwt_rp.introspect(first["access_token"])["active"] is True  # no reuse alarm either


def test_the_code_exchange_may_repeat_the_authorization_resource_but_not_name_another(jwt_rp, flow, customer):
    request = jwt_rp.authorization(scope="openid", resource=REPORTS)
    code = signed_in_code(flow, jwt_rp, request)
    for other in (API, "https://elsewhere.example/"):
        refused = jwt_rp.exchange(code, request, resource=other)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    same = jwt_rp.exchange(code, request, resource=REPORTS)  # the code was not spent by the refusals
    assert same.status_code == 200, same.text
    assert read_jwt(jwt_rp, same.json()["access_token"])[1]["aud"] == REPORTS
    assert jwt_rp.exchange(code, request, resource=REPORTS).json()["error"] == "invalid_grant"  # spent now


def test_a_resource_named_at_the_code_exchange_binds_the_refresh_family_too(jwt_rp, flow, customer):
    first = tokens_for(jwt_rp, flow, scope="openid offline_access", resource=REPORTS)
    second = jwt_rp.refresh(first["refresh_token"]).json()
    assert read_jwt(jwt_rp, second["access_token"])[1]["aud"] == REPORTS
    refused = refresh_with(jwt_rp, second["refresh_token"], resource=API)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


def test_an_opaque_client_keeps_the_authorization_resource_and_introspection_names_it(make_client, flow,
                                                                                      customer):
    rp = make_client(first_party=True, audiences=[API, REPORTS])
    request = rp.authorization(scope="openid offline_access", resource=REPORTS)
    code = signed_in_code(flow, rp, request)
    refused = rp.exchange(code, request, resource=API)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"
    token = rp.exchange(code, request).json()
    assert token["access_token"].count(".") == 0
    assert rp.introspect(token["access_token"])["aud"] == REPORTS
    refreshed = rp.refresh(token["refresh_token"]).json()
    assert rp.introspect(refreshed["access_token"])["aud"] == REPORTS
    refused = refresh_with(rp, refreshed["refresh_token"], resource=API)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_target"


@pytest.mark.parametrize("resource", ["https://elsewhere.example/", API + "#x", "not a uri", "relative/path",
                                      "http://[::1", API.upper(), API + " ", "\u0434\u043c\u0441" * 500])
def test_a_resource_outside_the_audiences_at_authorization_is_invalid_target_at_the_redirect_uri(
        jwt_rp, flow, resource):
    request = jwt_rp.authorization(scope="openid", resource=resource)
    answer = jwt_rp.callback(flow.start(request).url, request)  # state and iss checked there
    assert answer["error"] == "invalid_target" and "code" not in answer
    assert "resource" in answer["error_description"]


def test_a_signed_in_customer_gets_no_code_for_a_resource_outside_the_audiences(jwt_rp, flow, customer):
    signed_in_code(flow, jwt_rp, jwt_rp.authorization(scope="openid"))  # now signed in
    request = jwt_rp.authorization(scope="openid", resource="https://elsewhere.example/")
    answer = jwt_rp.callback(flow.start(request).url, request)
    assert answer["error"] == "invalid_target" and "code" not in answer


def test_a_client_without_audiences_may_name_no_resource_at_authorization(rp, flow):
    request = rp.authorization(scope="openid", resource=API)
    assert rp.callback(flow.start(request).url, request)["error"] == "invalid_target"


def test_a_repeated_resource_at_authorization_is_invalid_request(jwt_rp, flow):
    request = jwt_rp.authorization(scope="openid", resource=API)
    request.url += "&" + urlencode({"resource": REPORTS})
    answer = jwt_rp.callback(flow.start(request).url, request)
    assert answer["error"] == "invalid_request" and "resource" in answer["error_description"]
    request = jwt_rp.authorization(scope="openid", resource=API)
    request.url += "&" + urlencode({"resource": API})  # the same value twice: still repeated
    assert jwt_rp.callback(flow.start(request).url, request)["error"] == "invalid_request"


def test_an_empty_resource_at_authorization_is_as_if_omitted(jwt_rp, flow, customer):
    request = jwt_rp.authorization(scope="openid offline_access")
    request.url += "&resource="
    token = jwt_rp.exchange(signed_in_code(flow, jwt_rp, request), request).json()
    assert read_jwt(jwt_rp, token["access_token"])[1]["aud"] == API
    narrowed = refresh_with(jwt_rp, token["refresh_token"], resource=REPORTS)  # no resource bound it
    assert read_jwt(jwt_rp, narrowed.json()["access_token"])[1]["aud"] == REPORTS
