"""The OpenAPI document: valid OpenAPI 3.1, and describing every route, method and error of the API.

That each actual response matches the document is checked on every call in test_api.py (``Api``).
"""
from __future__ import annotations

import re

import pytest

from openapi_spec_validator import validate

from idp.admin.payload import CREATE_FIELDS, UPDATE_FIELDS


def test_document_is_valid_openapi_3_1(openapi):
    validate(openapi)
    assert openapi["openapi"].startswith("3.1.")


def test_every_route_and_method_is_described(app, openapi):
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/admin"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {path: {m for m in item if m in ("get", "post", "patch", "put", "delete")}
                 for path, item in openapi["paths"].items()}
    assert routes == described


def test_every_protected_operation_describes_the_token_errors(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or operation.get("security") == []:
                continue
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
            for status in ("401", "403"):
                ref = operation["responses"][status]["$ref"].rsplit("/", 1)[-1]
                assert "WWW-Authenticate" in openapi["components"]["responses"][ref]["headers"]
            if "{client_id}" in path:
                assert "404" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(operation["responses"]), (method, path)


def test_every_error_class_is_in_the_schema(openapi):
    from idp.admin.api import _HTTP_ERRORS, error_of
    from idp.admin.bearer import BearerError, InsufficientScope, MissingToken
    from idp.admin.casework import PolicyNotFound
    from idp.admin.operations import SelfLockout
    from idp.admin.paging import InvalidQuery
    from idp.admin.payload import InvalidRequest, UnsupportedMediaType
    from idp.clients import ClientExists, ClientNotFound, InvalidClientSettings, InvalidRedirectUri
    from idp.delivery.failures import DeliveryNotFound, NotRequeueable
    from idp.errors import Conflict
    from idp.support import AccountNotFound, InvalidReason, InvalidToken
    from idp.support import InvalidQuery as InvalidSearch

    documented = set(openapi["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    raised = {error_of(cls()) for cls in (BearerError, MissingToken, InsufficientScope, InvalidRequest,
                                          UnsupportedMediaType, ClientExists, ClientNotFound,
                                          InvalidClientSettings, InvalidRedirectUri, InvalidQuery,
                                          PolicyNotFound, DeliveryNotFound, NotRequeueable, Conflict,
                                          SelfLockout, AccountNotFound, InvalidSearch, InvalidReason, InvalidToken)}
    assert raised | set(_HTTP_ERRORS.values()) | {"server_error"} == documented


def test_request_bodies_name_exactly_the_fields_the_api_takes(openapi):
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ClientCreate"]["properties"]) == set(CREATE_FIELDS)
    assert set(schemas["ClientUpdate"]["properties"]) == set(UPDATE_FIELDS)
    assert schemas["ClientCreate"]["additionalProperties"] is False
    assert schemas["ClientUpdate"]["additionalProperties"] is False


def test_client_schema_names_every_field_the_api_shows(app, openapi):
    from idp.clients import create_client, describe_client

    with app.app_context():
        services = app.extensions["idp"]
        created = create_client(services.settings, name="x", redirect_uris=["https://rp.example/cb"],
                                now=services.clock.now())
        shown = set(describe_client(created.client))
    schema = openapi["components"]["schemas"]["Client"]
    assert shown == set(schema["properties"]) == set(schema["required"])


def test_token_url_is_the_providers(openapi, app):
    flows = openapi["components"]["securitySchemes"]["adminToken"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"
    assert set(flows["clientCredentials"]["scopes"]) == {"admin", "support"}
    # The provider's token endpoint answers there (an OAuth error for an empty request, not a 404).
    response = app.test_client().post("/oauth/token", data={})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_policy_and_delivery_schemas_name_every_field_the_api_shows(app, openapi):
    from idp.admin.casework import policy_reports
    from idp.delivery import EMAIL, Delivery
    from idp.delivery.failures import describe
    from idp.extensions import db
    from idp.policies import Policy, issue_policy
    from idp.policies.intake import RESULTS, UNCHANGED
    from tests.policies.conftest import policy_doc

    services = app.extensions["idp"]
    with app.app_context():
        outcome = issue_policy(services, policy_doc(number="LF-1", person={"phone": None}), source="test")
        [report] = policy_reports([db.session.execute(db.select(Policy)).scalar_one()])
        row = Delivery(channel=EMAIL, recipient="a@example.com", template="t", status="dead", attempts=1,
                       next_attempt_at=services.clock.now(), created_at=services.clock.now())
        db.session.add(row)
        db.session.flush()
        shown = describe(row)
    schemas = openapi["components"]["schemas"]
    for schema, data in ((schemas["PolicyReport"], report), (schemas["Delivery"], shown),
                         (schemas["RecheckOutcome"], outcome.as_dict())):
        assert set(data) == set(schema["properties"]) == set(schema["required"])
    assert set(schemas["RecheckOutcome"]["properties"]["result"]["enum"]) == set(RESULTS) - {UNCHANGED}


# -- the document states the rules the server enforces -------------------------------------------------------


def _valid(openapi, name: str, body) -> bool:
    import jsonschema

    return jsonschema.Draft202012Validator({"$schema": "https://json-schema.org/draft/2020-12/schema",
                                            "$ref": f"#/components/schemas/{name}",
                                            "components": openapi["components"]}).is_valid(body)


SERVICE = {"name": "Служебная система", "grant_types": ["client_credentials"], "scopes": ["admin"]}
PORTAL = {"name": "ДМС", "redirect_uris": ["https://dms.example/cb"]}


@pytest.mark.parametrize("body, valid", [
    (PORTAL, True),
    (SERVICE, True),
    ({**PORTAL, "redirect_uris": ["http://127.0.0.1:5001/rp/cb", " https://dms.example/cb?x=1 "]}, True),
    ({**PORTAL, "client_id": ""}, True),  # empty: a random one, as when absent
    ({**SERVICE, "scopes": ["openid profile", "admin"]}, True),  # several in one item: the API splits them
    ({**SERVICE, "grant_types": []}, False),  # at least one grant
    ({"name": "ДМС"}, False),  # the default grants include authorization_code: a redirect URI is required
    ({**SERVICE, "grant_types": ["authorization_code"]}, False),
    ({**SERVICE, "grant_types": ["authorization_code"], "redirect_uris": []}, False),
    ({**PORTAL, "public": True, "grant_types": ["authorization_code", "client_credentials"]}, False),
    ({**PORTAL, "public": True, "pkce_required": False}, False),
    ({**PORTAL, "pkce_required": False}, True),
    ({**PORTAL, "redirect_uris": ["https://dms.example/cb#top"]}, False),
    ({**PORTAL, "redirect_uris": ["http://dms.example/cb"]}, False),
    ({**PORTAL, "redirect_uris": ["https://user@dms.example/cb"]}, False),
    ({**PORTAL, "redirect_uris": ["https://*.example/cb"]}, False),
    ({**PORTAL, "redirect_uris": ["https://dms.example:99999/cb"]}, False),
    ({**PORTAL, "redirect_uris": [f"https://dms.example/{i}" for i in range(21)]}, False),
    ({**PORTAL, "name": "   "}, False),
    ({**PORTAL, "name": "ДМС\x00"}, False),
])
def test_registration_rules_are_in_the_document(openapi, body, valid):
    assert _valid(openapi, "ClientCreate", body) is valid


@pytest.mark.parametrize("body, valid", [
    ({}, True),
    ({"grant_types": ["authorization_code"]}, True),  # the stored URIs decide (400 if there are none)
    ({"grant_types": []}, False),
    ({"grant_types": ["authorization_code"], "redirect_uris": []}, False),
])
def test_update_rules_are_in_the_document(openapi, body, valid):
    assert _valid(openapi, "ClientUpdate", body) is valid


def test_the_contact_centre_operations_take_support_or_admin_and_no_other_does(app, openapi):
    from idp.admin.api import _SUPPORT_ENDPOINTS

    either = [{"adminToken": ["support"]}, {"adminToken": ["admin"]}]
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch") and operation.get("security") != []:
                assert (operation.get("security") == either) is path.startswith("/api/admin/accounts"), path
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/admin/accounts")}
    assert routes == _SUPPORT_ENDPOINTS and len(routes) == 8


def test_self_lockout_is_documented_where_it_can_happen(openapi):
    for path, method in (("/api/admin/clients/{client_id}/disable", "post"),
                         ("/api/admin/clients/{client_id}/rotate-secret", "post"),
                         ("/api/admin/clients/{client_id}", "patch")):
        assert openapi["paths"][path][method]["responses"]["409"] == {
            "$ref": "#/components/responses/SelfLockout"}
