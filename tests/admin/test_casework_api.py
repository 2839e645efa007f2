"""The admin API for held policies and failed messages, over real HTTP with real client_credentials tokens.

Every answer is checked against the OpenAPI document by :class:`tests.admin.conftest.Api`.
"""
from __future__ import annotations

import pytest

from idp.delivery import DEAD, QUEUED, SENT, Dispatcher
from tests.admin.cases import (AGENT, dead_letters, delivery, events, flaky_courier, held_by_the_agent, issue)
from tests.admin.conftest import Api


@pytest.fixture
def courier(settings):
    return flaky_courier(settings)


@pytest.fixture
def transport(courier):
    return courier[1]


@pytest.fixture
def app(make_app, courier):
    return make_app(courier=courier[0], delivery_mode="worker", delivery_max_attempts=1)


def error_of(response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["error"], body.get("error_code")


# -- held and refused policies --------------------------------------------------------------------------------


def test_held_policies_with_the_conflict_by_login(api, app):
    held_by_the_agent(app)
    issue(app, number="LF-3", person={"phone": None, "email": "olga@example.com", "full_name": "Ольга Ким"})
    response = api.get("/api/admin/policies/held")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert [p["number"] for p in body["policies"]] == ["LF-3", "LF-2"]
    assert (body["page"], body["per_page"], body["total"], body["next_page"]) == (1, 50, 2, None)
    lf3, lf2 = body["policies"]
    assert (lf3["reason"], lf3["conflicts"]) == ("missing_phone", [])
    assert lf2["reason"] == "contact_belongs_to_another_person" and lf2["reason_text"]
    [conflict] = lf2["conflicts"]
    assert conflict["contact"] == "email" and conflict["account"]["login"] == AGENT
    assert (conflict["full_name"], conflict["birth_date"], conflict["same_person"]) == \
        ("Сидоров Сидор", "1970-01-01", False)


def test_refused_policies_filtered_by_reason(api, app):
    issue(app, number="CR-1", kind="credit")
    issue(app, number="DMS-1", kind="corporate", product="dms",
          employer={"name": "ООО «Ромашка»", "includes_account": False})
    body = api.get("/api/admin/policies/refused").json()
    assert [(p["number"], p["reason"]) for p in body["policies"]] == [
        ("DMS-1", "corporate_without_account"), ("CR-1", "credit_linked")]
    only = api.get("/api/admin/policies/refused", params={"reason": "credit_linked"}).json()
    assert [p["number"] for p in only["policies"]] == ["CR-1"]


def test_pages(api, app):
    for n in range(5):
        issue(app, number=f"CR-{n}", kind="credit")
    first = api.get("/api/admin/policies/refused", params={"per_page": 2}).json()
    assert [p["number"] for p in first["policies"]] == ["CR-4", "CR-3"]
    assert (first["total"], first["pages"], first["next_page"]) == (5, 3, 2)
    last = api.get("/api/admin/policies/refused", params={"per_page": 2, "page": 3}).json()
    assert [p["number"] for p in last["policies"]] == ["CR-0"] and last["next_page"] is None
    past = api.get("/api/admin/policies/refused", params={"per_page": 2, "page": 9})
    assert past.status_code == 200 and past.json()["policies"] == []


@pytest.mark.parametrize("path, params, code", [
    ("/api/admin/policies/held", {"page": "0"}, "query.page"),
    ("/api/admin/policies/held", {"page": "abc"}, "query.page"),
    ("/api/admin/policies/held", {"page": "9" * 40}, "query.page"),
    ("/api/admin/policies/held", {"per_page": "201"}, "query.per_page"),
    ("/api/admin/policies/held", {"per_page": "-5"}, "query.per_page"),
    ("/api/admin/policies/refused", {"reason": "missing_email"}, "query.reason"),
    ("/api/admin/deliveries", {"status": "bounce"}, "query.status"),  # every state is a filter, but not this
    ("/api/admin/deliveries", {"status": "\x00"}, "query.status"),
    ("/api/admin/deliveries", {"page": "1e3"}, "query.page"),
    ("/api/admin/policies/held", {"page": ""}, "query.page"),  # present but empty: not the default
    ("/api/admin/policies/held", {"per_page": " "}, "query.per_page"),
    ("/api/admin/policies/refused", {"reason": ""}, "query.reason"),
    ("/api/admin/deliveries", {"status": ""}, "query.status"),
])
def test_bad_query_is_400(api, path, params, code):
    assert error_of(api.get(path, params=params)) == (400, "invalid_request", code)


def test_recheck_creates_the_account_once_the_data_is_fixed(api, app, run_cli, make_admin_token, live_server,
                                                            openapi):
    held_by_the_agent(app)
    token, admin_client_id, _ = make_admin_token()
    caller = Api(live_server.url, token, openapi)
    still = caller.post("/api/admin/policies/LF-2/recheck")
    assert still.status_code == 200 and (still.json()["result"], still.json()["state"]) == ("held", "held")
    assert run_cli("accounts", "update", AGENT, "--email", "sidorov@example.com").exit_code == 0
    done = caller.post("/api/admin/policies/LF-2/recheck").json()
    assert (done["result"], done["state"]) == ("account_created", "attached") and done["account"]
    assert api.get("/api/admin/policies/held").json()["policies"] == []
    [latest, first] = events(app, "admin.policy_recheck")
    assert latest.details == {"number": "LF-2", "result": "account_created", "state": "attached", "reason": None,
                              "via": "api", "by_client": admin_client_id}
    assert first.details["result"] == "held"


@pytest.mark.parametrize("number", ["NOPE", "x" * 300, "a%00b", "%D0%9F"])
def test_recheck_of_an_unknown_policy_is_404(api, number):
    assert error_of(api.post(f"/api/admin/policies/{number}/recheck")) == (404, "not_found", "policy.not_found")


def test_policy_numbers_with_a_slash(api, app):
    issue(app, number="DMS/2026/7", kind="credit")
    response = api.post("/api/admin/policies/DMS%2F2026%2F7/recheck")  # as an OpenAPI client sends it
    assert response.status_code == 200 and response.json()["number"] == "DMS/2026/7"


# -- failed messages ------------------------------------------------------------------------------------------


def test_failed_deliveries_are_masked_and_filtered(api, app, transport):
    dead, sms = dead_letters(app, transport)
    body = api.get("/api/admin/deliveries").json()
    assert [d["id"] for d in body["deliveries"]] == [sms, dead] and body["total"] == 2
    email = body["deliveries"][1]
    assert (email["recipient"], email["status"], email["template"], email["attempts"]) == (
        "a***@example.com", "dead", "account_created", 1)
    assert email["last_error"] == "SES unreachable: EndpointConnectionError" and email["requeueable"] is True
    assert "payload" not in email and "anna@example.com" not in api.get("/api/admin/deliveries").text
    assert api.get("/api/admin/deliveries", params={"status": "retrying"}).json()["deliveries"] == []
    assert len(api.get("/api/admin/deliveries", params={"status": "dead"}).json()["deliveries"]) == 2


def test_requeue_then_the_dispatcher_sends_it(api, app, transport, mailbox, make_admin_token, live_server,
                                              openapi):
    dead, _ = dead_letters(app, transport)
    token, admin_client_id, _ = make_admin_token()
    response = Api(live_server.url, token, openapi).post(f"/api/admin/deliveries/{dead}/requeue")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == (QUEUED, 0)
    with app.app_context():
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["sent"] == 1
    assert delivery(app, dead).status == SENT and mailbox.last("anna@example.com")["template"] == "account_created"
    [requeued] = events(app, "delivery.requeued")
    assert requeued.details["via"] == "api" and requeued.details["by_client"] == admin_client_id
    [action] = events(app, "admin.delivery_requeue")
    assert action.details == {"delivery_id": dead, "via": "api", "by_client": admin_client_id}

    again = api.post(f"/api/admin/deliveries/{dead}/requeue")
    assert error_of(again) == (409, "conflict", "delivery.not_dead")
    assert len(events(app, "delivery.requeued")) == 1


@pytest.mark.parametrize("delivery_id", ["999", "abc", "0", "-1", "99999999999999999999", "2147483648", "%00"])
def test_requeue_of_an_unknown_delivery_is_404(api, delivery_id):
    assert error_of(api.post(f"/api/admin/deliveries/{delivery_id}/requeue")) == \
        (404, "not_found", "delivery.not_found")


def test_requeue_of_a_queued_message_is_409(api, app, transport):
    dead, sms = dead_letters(app, transport)
    assert api.post(f"/api/admin/deliveries/{sms}/requeue").status_code == 200
    assert error_of(api.post(f"/api/admin/deliveries/{sms}/requeue")) == (409, "conflict", "delivery.not_dead")
    assert delivery(app, dead).status == DEAD


# -- tokens ---------------------------------------------------------------------------------------------------


ROUTES = [("GET", "/api/admin/policies/held"), ("GET", "/api/admin/policies/refused"),
          ("POST", "/api/admin/policies/LF-2/recheck"), ("GET", "/api/admin/deliveries"),
          ("POST", "/api/admin/deliveries/1/requeue")]


@pytest.mark.parametrize("method, path", ROUTES)
def test_no_token_is_401(anonymous_api, method, path):
    response = anonymous_api.request(method, path)
    assert error_of(response) == (401, "invalid_token", "token.missing")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="idp-admin"'


@pytest.mark.parametrize("method, path", ROUTES)
def test_token_without_admin_scope_is_403_and_changes_nothing(make_admin_token, live_server, openapi, app,
                                                               transport, method, path):
    held_by_the_agent(app)
    token, _, _ = make_admin_token(scopes=("reports",), scope="reports")
    response = Api(live_server.url, token, openapi).request(method, path)
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")
    assert events(app, "admin.*") == []


def test_policy_system_token_is_not_an_admin_token(live_server, openapi, make_admin_token):
    token, _, _ = make_admin_token(scopes=("policies:write",), scope="policies:write")
    response = Api(live_server.url, token, openapi).get("/api/admin/policies/held")
    assert error_of(response)[:2] == (403, "insufficient_scope")
