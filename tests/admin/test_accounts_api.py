"""The contact centre's REST API (``/api/admin/accounts…``, issue 24 item 6) through real HTTP, with real tokens
from /oauth/token (client_credentials, scope ``support`` or ``admin``).

Every response is checked against the OpenAPI document by :class:`tests.admin.conftest.Api`: a status the
document does not list for the operation, or a body that does not match its schema, fails the test.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from tests.admin.conftest import Api
from tests.policies.conftest import issue  # noqa: F401  (a policy through the intake: the customer's account)

PHONE_WRITTEN = "8 (916) 123-45-67"
ACTIONS = ("send-temporary-password", "resend-welcome", "unlock", "block", "unblock", "sign-out")


def error_of(response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["error"], body.get("error_code")


def path(ref: str) -> str:
    return "/api/admin/accounts/" + quote(ref, safe="")


@pytest.fixture
def ivan(issue):
    """Иванов Иван Иванович: an account made by his policy (ivan@example.com, +7 916 123-45-67), welcomed."""
    outcome = issue()
    assert outcome["result"] == "account_created", outcome
    return outcome  # number, account (the sub)


@pytest.fixture
def support_token(make_admin_token):
    """A token of a service client allowed ``support`` only (the contact centre's system)."""
    return make_admin_token(scopes=("support",), scope="support")


@pytest.fixture
def support_api(live_server, support_token, openapi) -> Api:
    return Api(live_server.url, support_token[0], openapi)


# -- find -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["ivan@example.com", " IVAN@example.com ", PHONE_WRITTEN, "+7 916 123-45-67",
                                   "89161234567"])
def test_find_by_login(api, ivan, query):
    response = api.get("/api/admin/accounts", params={"q": query})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    [found] = response.json()["accounts"]
    assert found["subject"] == ivan["account"] and found["blocked"] is False
    assert found["email"] == "i***@example.com" and found["phone"].startswith("+791") and "123-45" not in found["phone"]
    assert "ivan@example.com" not in response.text and "79161234567" not in response.text


def test_find_by_policy_number_and_by_sub(api, ivan):
    for query in (ivan["number"], ivan["account"]):
        [found] = api.get("/api/admin/accounts", params={"q": query}).json()["accounts"]
        assert found["subject"] == ivan["account"]


def test_find_by_name_needs_the_birth_date(api, ivan):
    response = api.get("/api/admin/accounts", params={"q": "иван иванов"})
    assert error_of(response) == (400, "invalid_request", "support.query.too_broad")
    found = api.get("/api/admin/accounts", params={"q": "Иванов Иван", "birth_date": "1980-05-17"}).json()
    assert [a["subject"] for a in found["accounts"]] == [ivan["account"]]
    assert api.get("/api/admin/accounts", params={"q": "Иванов Иван", "birth_date": "1980-05-18"}).json() == \
        {"accounts": []}


@pytest.mark.parametrize("query", ["nobody@example.com", "+7 999 000-00-00", "LF-1999-000001", "0" * 32])
def test_nothing_found_is_a_plain_answer(api, ivan, query):
    response = api.get("/api/admin/accounts", params={"q": query})
    assert response.status_code == 200 and response.json() == {"accounts": []}


@pytest.mark.parametrize("query, code", [("8 (916) 123-45", "support.query.invalid_phone"),
                                         ("+7 (916) 123-45-67-89", "support.query.invalid_phone"),
                                         ("ivan@", "support.query.invalid_email")])
def test_malformed_login_is_a_clear_400(api, query, code):
    response = api.get("/api/admin/accounts", params={"q": query})
    status, error, got = error_of(response)
    assert (status, error, got) == (400, "invalid_request", code)
    assert response.json()["error_description"]


@pytest.mark.parametrize("params, code", [({}, "query.q"), ({"q": ""}, "query.q"), ({"q": "   "}, "query.q"),
                                          ({"q": "Иванов", "birth_date": "17.05.1980"}, "query.birth_date"),
                                          ({"q": "Иванов", "birth_date": "1980-02-30"}, "query.birth_date"),
                                          ({"q": "x" * 301}, "support.query.invalid")])
def test_bad_query_is_400(api, params, code):
    assert error_of(api.get("/api/admin/accounts", params=params)) == (400, "invalid_request", code)


# -- view -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", [PHONE_WRITTEN, "ivan@example.com", "number", "sub"])
def test_view_by_any_ref(api, ivan, ref):
    ref = {"number": ivan["number"], "sub": ivan["account"]}.get(ref, ref)
    response = api.get(path(ref))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert ivan["account"] in response.text
    assert "ivan@example.com" not in response.text and "79161234567" not in response.text


def test_each_view_is_audited_with_the_calling_client(support_api, support_token, ivan, app):
    support_api.get(path(PHONE_WRITTEN))
    support_api.get(path(ivan["number"]))
    viewed = [e for e in _account_events(app, ivan["account"]) if "view" in e.event]
    assert len(viewed) == 2
    for event in viewed:
        assert event.details["via"] == "api" and event.details["operator"] == support_token[1]
        assert event.details["operator_client_id"] == support_token[1]


def _account_events(app, sub: str) -> list:
    from idp.accounts import Account
    from idp.audit import search
    from idp.extensions import db

    with app.app_context():
        account = db.session.execute(db.select(Account).where(Account.subject == sub)).scalar_one()
        return list(search(account_id=account.id))


@pytest.mark.parametrize("ref, status, code", [("nobody@example.com", 404, "support.not_found"),
                                               ("LF-1999-000001", 404, "support.not_found"),
                                               ("8 (916) 123-45", 400, "support.query.invalid_phone")])
def test_view_of_no_account(api, ivan, ref, status, code):
    assert error_of(api.get(path(ref)))[::2] == (status, code)


def test_a_policy_number_with_a_slash(api, issue):
    outcome = issue(number="LF/2026/7", person={"email": "petr@example.com", "phone": "+7 916 765-43-21"})
    for ref in ("LF/2026/7", "LF%2F2026%2F7"):
        response = requests.get(api.base_url + "/api/admin/accounts/" + ref, headers=api.http.headers, timeout=10)
        assert response.status_code == 200 and outcome["account"] in response.text
    response = requests.post(api.base_url + "/api/admin/accounts/LF%2F2026%2F7/unlock", json={"reason": "звонок"},
                             headers=api.http.headers, timeout=10)
    assert response.status_code == 200 and response.json()["account"] == outcome["account"]


def test_get_on_an_action_is_405(api, ivan):
    response = api.get(path(PHONE_WRITTEN) + "/unlock")
    assert response.status_code == 405 and {m.strip() for m in response.headers["Allow"].split(",")} == \
        {"POST", "OPTIONS"}


# -- actions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_with_a_reason(api, ivan, action, app, admin_token):
    response = api.post(path(PHONE_WRITTEN) + f"/{action}", json={"reason": "клиент позвонил, не пришло SMS"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["action"] == action.replace("-", "_") and body["account"] == ivan["account"]
    assert body["repeated"] is False
    events = [e for e in _account_events(app, ivan["account"]) if e.details.get("reason")]
    assert [e.details["reason"] for e in events] == ["клиент позвонил, не пришло SMS"]
    assert events[0].details["via"] == "api"


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_each_action_without_a_reason_is_400(api, ivan, action, body, app):
    status, error, code = error_of(api.post(path(PHONE_WRITTEN) + f"/{action}", json=body))
    assert (status, error) == (400, "invalid_request") and code.startswith("support.reason.")
    assert not [e for e in _account_events(app, ivan["account"]) if e.details.get("reason") is not None]


@pytest.mark.parametrize("action", ACTIONS)
def test_each_action_twice_with_the_same_key_is_done_once(api, ivan, action, app):
    headers = {"Idempotency-Key": "b9f2c2f0-6f5b-4c1e-9b55-3c2d0f6c1a77"}
    first = api.post(path(PHONE_WRITTEN) + f"/{action}", json={"reason": "звонок"}, headers=headers)
    again = api.post(path("ivan@example.com") + f"/{action}", json={"reason": "звонок"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["repeated"] is False
    assert again.json() == {**first.json(), "repeated": True, "details": {}}  # done then, nothing now
    assert len([e for e in _account_events(app, ivan["account"]) if e.details.get("reason")]) == 1


def test_the_temporary_password_is_sent_once_and_never_shown(api, ivan, app, mailbox):
    headers = {"Idempotency-Key": "one-press"}
    before = len(mailbox.messages())
    for _ in range(2):
        response = api.post(path(ivan["number"]) + "/send-temporary-password", json={"reason": "звонок"},
                            headers=headers)
        assert response.status_code == 200
    sent = mailbox.messages()[before:]
    assert len(sent) == 1
    assert mailbox.temporary_password() not in response.text


def test_block_stops_sign_in_and_unblock_lets_in(api, ivan, app):
    blocked = api.post(path(ivan["account"]) + "/block", json={"reason": "просьба клиента"})
    assert blocked.status_code == 200
    [found] = api.get("/api/admin/accounts", params={"q": ivan["account"]}).json()["accounts"]
    assert found["blocked"] is True
    api.post(path(ivan["account"]) + "/unblock", json={"reason": "клиент подтвердил личность"})
    [found] = api.get("/api/admin/accounts", params={"q": ivan["account"]}).json()["accounts"]
    assert found["blocked"] is False


@pytest.mark.parametrize("key", ["", "x" * 65, "с кириллицей", "two words"])
def test_a_bad_idempotency_key_is_400(api, ivan, key):
    response = api.post(path(PHONE_WRITTEN) + "/unlock", json={"reason": "звонок"},
                        headers={"Idempotency-Key": key.encode("utf-8")})
    assert error_of(response) == (400, "invalid_request", "request.idempotency_key")


def test_the_same_key_from_another_client_is_another_action(api, support_api, ivan, app):
    headers = {"Idempotency-Key": "press-1"}
    first = api.post(path(PHONE_WRITTEN) + "/unlock", json={"reason": "звонок"}, headers=headers)
    other = support_api.post(path(PHONE_WRITTEN) + "/unlock", json={"reason": "звонок"}, headers=headers)
    assert first.json()["repeated"] is False and other.json()["repeated"] is False


@pytest.mark.parametrize("raw, headers, expected", [
    (b"reason=x", {"Content-Type": "application/x-www-form-urlencoded"}, (415, "request.media_type")),
    (b"{not json", {"Content-Type": "application/json"}, (400, "request.malformed")),
    (b'["x"]', {"Content-Type": "application/json"}, (400, "request.not_object")),
    (b'{"reason": 42}', {"Content-Type": "application/json"}, (400, "request.type")),
    (b'{"reason": "x", "password": "y"}', {"Content-Type": "application/json"}, (400, "request.unknown_field")),
])
def test_an_action_body_that_is_not_a_reason(api, ivan, raw, headers, expected):
    assert error_of(api.post(path(PHONE_WRITTEN) + "/block", data=raw, headers=headers))[::2] == expected


def test_an_action_on_no_account_is_404(api):
    response = api.post(path("nobody@example.com") + "/block", json={"reason": "звонок"})
    assert error_of(response) == (404, "not_found", "support.not_found")


# -- who may: support or admin, and support nothing else ---------------------------------------------------------


def test_a_support_token_does_everything_here(support_api, ivan):
    assert support_api.get("/api/admin/accounts", params={"q": PHONE_WRITTEN}).json()["accounts"]
    assert support_api.get(path(PHONE_WRITTEN)).status_code == 200
    for action in ACTIONS:
        assert support_api.post(path(PHONE_WRITTEN) + f"/{action}", json={"reason": "звонок"}).status_code == 200


@pytest.mark.parametrize("method, where", [("GET", "/api/admin/clients"), ("POST", "/api/admin/clients"),
                                           ("GET", "/api/admin/policies/held"), ("GET", "/api/admin/deliveries")])
def test_a_support_token_is_403_elsewhere(support_api, method, where):
    response = support_api.request(method, where, json={"name": "x"} if method == "POST" else None)
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")
    assert response.headers["WWW-Authenticate"] == \
        'Bearer realm="idp-admin", error="insufficient_scope", scope="admin"'


def test_a_token_with_neither_scope_is_403_naming_support(make_admin_token, live_server, openapi, ivan):
    token, _, _ = make_admin_token(scopes=("reports", "support"), scope="reports")
    response = Api(live_server.url, token, openapi).get("/api/admin/accounts", params={"q": PHONE_WRITTEN})
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")
    assert response.headers["WWW-Authenticate"] == \
        'Bearer realm="idp-admin", error="insufficient_scope", scope="support"'


def test_no_token_is_401(anonymous_api, ivan):
    for method, where in (("GET", "/api/admin/accounts?q=x"), ("GET", path(PHONE_WRITTEN)),
                          ("POST", path(PHONE_WRITTEN) + "/block")):
        assert error_of(anonymous_api.request(method, where)) == (401, "invalid_token", "token.missing")


def test_a_customer_token_never_speaks_for_the_contact_centre(live_server, make_client, openapi, ivan, make_account):
    from tests.admin.conftest import code_flow_token

    make_account(email="client@example.com", password="Polis2026")
    client_id, secret = make_client(first_party=True, scopes=["openid", "support"],
                                    redirect_uris=[live_server.url + "/rp/callback"])
    token = code_flow_token(live_server.url, client_id, secret, scope="openid support",
                            login="client@example.com", password="Polis2026")
    response = Api(live_server.url, token["access_token"], openapi).get(path(PHONE_WRITTEN))
    assert error_of(response) == (403, "insufficient_scope", "token.insufficient_scope")


def test_an_admin_grants_support_to_a_client_on_the_web(admin_client, app):
    from tests.admin.conftest import csrf_of

    page = admin_client.get("/admin/clients/new").get_data(as_text=True)
    assert 'id="scope-support"' in page
    response = admin_client.post("/admin/clients/new", data={
        "csrf_token": csrf_of(page), "name": "Контакт-центр", "redirect_uris": "https://cc.example/cb",
        "scopes": ["support"]})
    assert response.status_code in (200, 302, 303)
    from idp.clients import list_clients

    with app.app_context():
        assert [c.scopes for c in list_clients() if c.name == "Контакт-центр"] == [["support"]]


def test_the_admin_api_grants_support_to_a_client(api, live_server):
    created = api.post("/api/admin/clients", json={"name": "Контакт-центр", "grant_types": ["client_credentials"],
                                                    "scopes": ["support"]}).json()
    token = requests.post(live_server.url + "/oauth/token", data={"grant_type": "client_credentials",
                                                                  "scope": "support"},
                          auth=(created["client_id"], created["client_secret"]), timeout=10)
    assert token.status_code == 200 and token.json()["scope"] == "support"


def test_the_view_shows_lockouts_and_unlock_lifts_them(api, ivan, client):
    from tests.admin.conftest import sign_in

    for _ in range(6):
        sign_in(client, "ivan@example.com", "not-his-password")
    locked = api.get(path(PHONE_WRITTEN)).json()["lockouts"]
    assert locked and all(row["seconds_left"] > 0 and row["login"] == "email" for row in locked)
    response = api.post(path(PHONE_WRITTEN) + "/unlock", json={"reason": "клиент забыл пароль, позвонил"})
    assert response.json()["details"]["counters"] >= len(locked)
    assert api.get(path(PHONE_WRITTEN)).json()["lockouts"] == []


def test_the_view_of_a_new_customer(api, ivan):
    view = api.get(path(ivan["number"])).json()
    assert view["subject"] == ivan["account"] and view["state"] == "waiting"
    assert view["email"] == "i***@example.com" and view["full_name"] == "Иванов Иван Иванович"
    assert [p["number"] for p in view["policies"]] == [ivan["number"]] and view["policies"][0]["attached_here"]
    assert {(m["purpose"], m["channel"]) for m in view["messages"]} == {("account_created", "email"),
                                                                       ("account_created", "sms")}


def test_a_key_used_for_another_action_or_account_is_400(api, ivan, issue):
    other = issue(person={"email": "petr@example.com", "phone": "+7 916 765-43-21", "full_name": "Петров Пётр"})
    headers = {"Idempotency-Key": "press-2"}
    assert api.post(path(PHONE_WRITTEN) + "/unlock", json={"reason": "звонок"}, headers=headers).status_code == 200
    for where in (path(PHONE_WRITTEN) + "/block", path(other["account"]) + "/unlock"):
        response = api.post(where, json={"reason": "звонок"}, headers=headers)
        assert error_of(response) == (400, "invalid_request", "support.token.reused")
