"""The OpenAPI document: valid OpenAPI 3.1, and describing every route, method and error of the API.

That each actual response matches the document is checked on every call in test_api.py (``Api``).
"""
from __future__ import annotations

import re

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
    from idp.admin.paging import InvalidQuery
    from idp.admin.payload import InvalidRequest, UnsupportedMediaType
    from idp.clients import ClientExists, ClientNotFound, InvalidClientSettings, InvalidRedirectUri
    from idp.delivery.failures import DeliveryNotFound, NotRequeueable
    from idp.errors import Conflict

    documented = set(openapi["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    raised = {error_of(cls()) for cls in (BearerError, MissingToken, InsufficientScope, InvalidRequest,
                                          UnsupportedMediaType, ClientExists, ClientNotFound,
                                          InvalidClientSettings, InvalidRedirectUri, InvalidQuery,
                                          PolicyNotFound, DeliveryNotFound, NotRequeueable, Conflict)}
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
    assert "admin" in flows["clientCredentials"]["scopes"]
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
