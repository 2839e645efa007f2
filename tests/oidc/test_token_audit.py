"""Tokens in the audit trail: every issue (by grant), revocation (RFC 7009, consent withdrawn) and reuse
alarm (a replayed code, a reused refresh token) is an event with its client, customer and address —
never a token value."""
from __future__ import annotations

import json

from idp.audit import search
from tests.oidc.conftest import signed_in_code


def events(app, pattern="token.*"):
    with app.app_context():
        return [(e.event, e.client_id, e.account_id, e.ip, e.details) for e in reversed(search(event=pattern))]


def trail_text(app) -> str:
    with app.app_context():
        return json.dumps([[e.event, e.details, e.client_id, e.user_agent] for e in search()], ensure_ascii=False)


def test_code_exchange_refresh_and_revocation(app, rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    first = rp.exchange(code, request).json()
    second = rp.refresh(first["refresh_token"]).json()
    assert rp.revoke(second["refresh_token"], hint="refresh_token").status_code == 200
    found = events(app)
    assert [(e[0], e[1], e[2]) for e in found] == [
        ("token.issued", rp.client_id, customer.id), ("token.issued", rp.client_id, customer.id),
        ("token.revoked", rp.client_id, customer.id)]
    assert all(e[3] == "127.0.0.1" for e in found)
    issued, refreshed, revoked = (e[4] for e in found)
    assert issued["grant_type"] == "authorization_code" and issued["with_refresh"] is True
    assert "openid" in issued["scope"].split()
    assert refreshed["grant_type"] == "refresh_token"
    assert revoked == {"kind": "refresh_token", "via": "revocation"}
    trail = trail_text(app)
    for value in (code, first["access_token"], first["refresh_token"], second["access_token"],
                  second["refresh_token"], first["id_token"]):
        assert value not in trail


def test_client_credentials(app, rp):
    response = rp.token({"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    [(event, client, account, _, details)] = events(app)
    assert (event, client, account) == ("token.issued", rp.client_id, None)
    assert details["grant_type"] == "client_credentials" and details["with_refresh"] is False
    assert response.json()["access_token"] not in trail_text(app)


def test_a_refused_request_issues_nothing(app, rp):
    assert rp.token({"grant_type": "authorization_code", "code": "nope",
                     "redirect_uri": rp.redirect_uri}).status_code == 400
    assert events(app) == []


def test_replayed_code_and_reused_refresh_token_are_alarms(app, rp, flow, customer):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    first = rp.exchange(code, request).json()
    assert rp.exchange(code, request).status_code == 400
    [alarm] = [e for e in events(app) if e[0] == "token.reuse"]
    assert alarm[1:3] == (rp.client_id, customer.id)
    assert alarm[4] == {"kind": "authorization_code", "revoked": 1}

    request = rp.authorization()
    first = rp.exchange(signed_in_code(flow, rp, request), request).json()
    rp.refresh(first["refresh_token"])
    assert rp.refresh(first["refresh_token"]).status_code == 400
    alarms = [e for e in events(app) if e[0] == "token.reuse"]
    assert len(alarms) == 2 and alarms[1][4]["kind"] == "refresh_token" and alarms[1][4]["revoked"] >= 1
    assert code not in trail_text(app) and first["refresh_token"] not in trail_text(app)


def test_withdrawn_consent_is_recorded(app, make_client, flow, customer, browser):
    portal = make_client(first_party=False, name="Агрегатор")
    request = portal.authorization()
    flow.start(request)
    flow.sign_in()
    portal.exchange(portal.callback(flow.consent("allow").url, request)["code"], request)
    browser.get("/account/apps")
    browser.submit("/account/apps/revoke", {"client_id": portal.client_id})
    [withdrawn] = [e for e in events(app) if e[0] == "token.revoked"]
    assert withdrawn[1:3] == (portal.client_id, customer.id) and withdrawn[4] == {"via": "consent_withdrawn"}


def test_the_metrics_count_issued_tokens(app, rp, client):
    from tests.ops.test_ops import metric

    before = metric(client, "idp_events_total", event="token.issued")
    rp.token({"grant_type": "client_credentials"})
    rp.token({"grant_type": "client_credentials"})
    assert metric(client, "idp_events_total", event="token.issued") == before + 2
