"""``POST /api/v1/policies`` through real HTTP with real client_credentials tokens from /oauth/token.

Every answer is checked against ``idp/policies/openapi.json`` (the ``Api`` helper in conftest).
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from tests.policies.conftest import DROP, policy_doc


def error_of(response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["error"], body.get("error_code")


def test_a_policy_creates_the_account_once(api, mailbox, live_server):
    document = policy_doc(number="LF-1")
    created = api.post("/api/v1/policies", json=document)
    assert created.status_code == 201
    body = created.json()
    assert (body["result"], body["state"], body["new"]) == ("account_created", "attached", True)
    assert created.headers["Location"].endswith("/api/v1/policies/LF-1")
    assert created.headers["Cache-Control"] == "no-store"
    assert {m["channel"] for m in mailbox.messages()} == {"email", "sms"}

    again = api.post("/api/v1/policies", json=document)
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
    assert again.json()["account"] == body["account"] and len(mailbox.messages()) == 2

    shown = api.get("/api/v1/policies/LF-1")
    assert shown.status_code == 200
    assert shown.json()["account"]["subject"] == body["account"] and shown.json()["source"] == "api"


def test_a_held_policy_gets_its_account_when_corrected(api, mailbox):
    held = api.post("/api/v1/policies", json=policy_doc(number="LF-1", person={"phone": "8 (495) 123-45-67"}))
    assert held.status_code == 201
    body = held.json()
    assert (body["state"], body["reason"], body["account"]) == ("held", "invalid_phone", None)
    assert mailbox.messages() == []
    fixed = api.post("/api/v1/policies", json=policy_doc(number="LF-1"))
    assert fixed.status_code == 200 and fixed.json()["result"] == "account_created"
    assert len(mailbox.messages()) == 2


def test_refusals_are_answered_with_their_reason(api):
    credit = api.post("/api/v1/policies", json=policy_doc(kind="credit"))
    assert credit.status_code == 201
    assert (credit.json()["state"], credit.json()["reason"]) == ("refused", "credit_linked")
    assert credit.json()["reason_text"]


def test_numbers_with_slashes_can_be_read_back(api):
    created = api.post("/api/v1/policies", json=policy_doc(number="ДМС/2026/17"))
    assert created.status_code == 201
    path = urlsplit(created.headers["Location"]).path
    assert path == "/api/v1/policies/%D0%94%D0%9C%D0%A1/2026/17"
    assert api.get(path).json()["number"] == "ДМС/2026/17"


@pytest.mark.parametrize("document, code, field", [
    (policy_doc(start_date="2026-13-01"), "policy.invalid_date", "start_date"),
    (policy_doc(kind="group"), "policy.invalid_kind", "kind"),
    (policy_doc(number=DROP), "policy.missing_field", "number"),
    (policy_doc(person={"birth_date": "2030-01-01"}), "policy.invalid_birth_date", "person.birth_date"),
    (policy_doc(kind="corporate"), "policy.missing_field", "employer"),
    (policy_doc(person={"full_name": "\ud800"}), "policy.invalid_field", "person.full_name"),
    (policy_doc(premium=10), "policy.unknown_field", "premium"),
    (policy_doc(employer=None), "policy.employer_null", "employer"),
    (policy_doc(kind="corporate", employer=None), "policy.employer_null", "employer"),
    (policy_doc(person={"full_name": "Иванов\x00Иван"}), "policy.control_character", "person.full_name"),
    ([policy_doc()], "policy.not_an_object", ""),
    (None, "policy.not_an_object", ""),
])
def test_bad_policies_are_400_with_codes_and_fields(api, document, code, field):
    response = api.post("/api/v1/policies", data=json.dumps(document),
                        headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "invalid_request", code)
    assert (field, code) in [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.mark.parametrize("data", [b"{", b"\xff\xfe", b"[" * 100_00 + b"]" * 100_00, b""])
def test_broken_json_is_400(api, data):
    response = api.post("/api/v1/policies", data=data, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "invalid_request", "request.malformed")


def test_other_media_types_are_415(api):
    response = api.post("/api/v1/policies", data={"number": "LF-1"})
    assert error_of(response) == (415, "unsupported_media_type", "request.media_type")


def test_a_body_over_64_kib_is_413(api):
    response = api.post("/api/v1/policies", json=policy_doc(person={"full_name": "Я" * 70_000}))
    assert error_of(response)[:2] == (413, "request_too_large")


def test_unknown_policy_is_404(api):
    assert error_of(api.get("/api/v1/policies/NOPE")) == (404, "not_found", "policy.not_found")


def test_wrong_method_is_405(api):
    response = api.request("DELETE", "/api/v1/policies/LF-1")
    assert response.status_code == 405


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/api/v1/policies/LF-1", {"GET", "HEAD", "OPTIONS"}),
    ("PUT", "/api/v1/policies", {"POST", "OPTIONS"}),
    ("POST", "/api/v1/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_405_says_which_methods_the_resource_takes(api, method, path, allowed):
    """RFC 9110 §15.5.6: a 405 carries ``Allow``."""
    response = api.request(method, path)
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_a_null_employer_is_refused_with_its_own_message(api, app):
    response = api.post("/api/v1/policies", json=policy_doc(number="LF-NULL", employer=None))
    assert error_of(response) == (400, "invalid_request", "policy.employer_null")
    [problem] = response.json()["errors"]
    assert problem["field"] == "employer" and "omit the field" in problem["description"]
    assert error_of(api.get("/api/v1/policies/LF-NULL"))[0] == 404  # nothing stored


def test_a_nul_in_a_short_name_is_not_called_too_long(api):
    response = api.post("/api/v1/policies", json=policy_doc(person={"full_name": "Иванов\x00 Иван"}))
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == ("person.full_name", "policy.control_character")
    assert "NUL" in problem["description"] and "at most" not in problem["description"]


# -- who may call it ----------------------------------------------------------------------------------------


def test_no_token_is_401_with_a_bare_bearer_challenge(anonymous_api):
    response = anonymous_api.post("/api/v1/policies", json=policy_doc())
    assert error_of(response) == (401, "invalid_token", "token.missing")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp-policies"'


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc"])
def test_other_schemes_are_401(anonymous_api, header):
    response = anonymous_api.post("/api/v1/policies", json=policy_doc(), headers={"Authorization": header})
    assert response.status_code == 401


def test_unknown_token_is_401(live_server, openapi):
    from tests.policies.conftest import Api

    response = Api(live_server.url, "not-a-token", openapi).post("/api/v1/policies", json=policy_doc())
    assert error_of(response) == (401, "invalid_token", "token.invalid")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_without_the_scope_is_403_and_writes_nothing(make_token, live_server, openapi, app):
    from idp.extensions import db
    from idp.policies import Policy
    from tests.policies.conftest import Api

    token, _ = make_token(scopes=("reports:read",), scope="reports:read")
    response = Api(live_server.url, token, openapi).post("/api/v1/policies", json=policy_doc())
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")
    assert 'scope="policies:write"' in response.headers["WWW-Authenticate"]
    with app.app_context():
        assert db.session.query(Policy).count() == 0


def test_revoked_token_is_401(make_token, live_server, openapi, app):
    from idp.clients import disable_client
    from idp.extensions import db
    from tests.policies.conftest import Api

    token, client_id = make_token()
    with app.app_context():
        disable_client(client_id, now=app.extensions["idp"].clock.now())
        db.session.commit()
    response = Api(live_server.url, token, openapi).post("/api/v1/policies", json=policy_doc())
    assert response.status_code == 401


# -- the OpenAPI document -----------------------------------------------------------------------------------


def test_openapi_is_served_without_a_token_and_valid(anonymous_api, openapi):
    response = anonymous_api.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json() == openapi
    validate(openapi)
    assert openapi["openapi"].startswith("3.1.")
    flows = openapi["components"]["securitySchemes"]["policyToken"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/oauth/token"


def test_every_route_and_method_is_described(app, openapi):
    routes: dict[str, set] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {path: {m for m in item if m in ("get", "post", "patch", "put", "delete")}
                 for path, item in openapi["paths"].items()}
    assert routes == described


def test_the_document_names_what_the_code_has(openapi):
    from idp.policies import KINDS, PRODUCTS, REASONS, STATUSES
    from idp.oidc.bearer import BearerError, InsufficientScope, MissingToken
    from idp.policies.api import _HTTP_ERRORS, MalformedBody, PolicyNotFound, UnsupportedMediaType
    from idp.policies.api import error_of as api_error
    from idp.policies.facts import InvalidPolicy, Problem, TOP_FIELDS, PERSON_FIELDS, EMPLOYER_FIELDS
    from idp.policies.intake import RESULTS
    from idp.errors import Conflict

    schemas = openapi["components"]["schemas"]
    assert set(schemas["PolicyDocument"]["properties"]) == set(TOP_FIELDS)
    assert set(schemas["Person"]["properties"]) == set(PERSON_FIELDS)
    assert set(schemas["Employer"]["properties"]) == set(EMPLOYER_FIELDS)
    assert schemas["PolicyDocument"]["properties"]["kind"]["enum"] == list(KINDS)
    assert schemas["PolicyDocument"]["properties"]["product"]["enum"] == list(PRODUCTS)
    assert schemas["PolicyDocument"]["properties"]["status"]["enum"] == list(STATUSES)
    assert set(schemas["Reason"]["enum"]) == set(REASONS) | {None}
    assert schemas["Outcome"]["properties"]["result"]["enum"] == list(RESULTS)
    raised = {api_error(exc) for exc in (BearerError(), MissingToken(), InsufficientScope(), MalformedBody(),
                                         UnsupportedMediaType(), PolicyNotFound(), Conflict(),
                                         InvalidPolicy([Problem("x", "y", "z")]))}
    documented = set(schemas["Error"]["properties"]["error"]["enum"])
    assert raised | set(_HTTP_ERRORS.values()) | {"server_error"} == documented


# -- nothing a caller sends causes a 500 -------------------------------------------------------------------


@pytest.fixture
def policy_token(make_token):
    return make_token()[0]


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["number", "kind", "product", "status", "start_date", "end_date", "person",
                              "employer", "person.full_name", "person.birth_date", "person.email",
                              "person.phone"]),
       value=_json_values)
def test_any_value_in_any_field_is_an_answer_never_a_500(app, policy_token, field, value):
    client = app.test_client()
    document = policy_doc()
    if field.startswith("person."):
        document["person"][field.split(".", 1)[1]] = value
    else:
        document[field] = value
    response = client.post("/api/v1/policies", data=json.dumps(document),
                           headers={"Authorization": f"Bearer {policy_token}",
                                    "Content-Type": "application/json"})
    assert response.status_code in (200, 201, 400), (field, value, response.get_data(as_text=True))
    if response.status_code == 400:
        assert response.get_json()["error_code"].startswith("policy.")


def test_the_same_document_from_two_connections_at_once_gives_one_account(api, live_server, app, mailbox):
    """Two deliveries of the same policy racing each other: one stores it, the other sees it."""
    import threading

    from idp.accounts import Account
    from idp.extensions import db

    document = policy_doc(number="LF-RACE")
    answers = []

    def send():
        answers.append(requests.post(live_server.url + "/api/v1/policies", json=document, timeout=20,
                                     headers={"Authorization": api.http.headers["Authorization"]}))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    assert len({a.json()["account"] for a in answers}) == 1
    with app.app_context():
        assert db.session.query(Account).count() == 1
    assert len(mailbox.messages()) == 2


# -- the document states the rules the server enforces -------------------------------------------------------


def _validator(openapi, name):
    import jsonschema

    return jsonschema.Draft202012Validator({"$schema": "https://json-schema.org/draft/2020-12/schema",
                                            "$ref": f"#/components/schemas/{name}",
                                            "components": openapi["components"]})


@pytest.mark.parametrize("document, valid", [
    (policy_doc(), True),
    (policy_doc(kind="corporate", employer={"name": "ООО «Ромашка»", "includes_account": True}), True),
    (policy_doc(person={"full_name": "Ἀλέξανδρος"}), True),
    (policy_doc(employer=None), False),  # was valid: employer said object, null went through
    (policy_doc(employer={"name": "ООО", "includes_account": True}), False),  # employer only on corporate
    (policy_doc(kind="corporate"), False),  # and always on corporate
    (policy_doc(kind="corporate", employer={"name": " ", "includes_account": True}), False),
    (policy_doc(person={"full_name": "Иванов\x00Иван"}), False),
    (policy_doc(person={"email": "a@example.com\x00"}), False),
])
def test_the_document_states_what_is_refused(openapi, document, valid):
    assert _validator(openapi, "PolicyDocument").is_valid(document) is valid


def test_rules_beyond_json_schema_are_listed_with_their_codes(openapi):
    rules = openapi["components"]["schemas"]["PolicyDocument"]["x-rules"]
    assert {rule["code"] for rule in rules} == {"policy.dates_out_of_order", "policy.invalid_birth_date",
                                                "policy.invalid_name"}
