"""The audit trail: a journey leaves the right events, with address and browser, and no secret."""
import json

import pytest

from idp.audit import record
from tests.web.test_pages import post_login


def journey(client, make_account, mailbox, clock):
    make_account(email="client@example.com")
    post_login(client, login="client@example.com", action="forgot")
    temporary = mailbox.temporary_password("client@example.com")
    post_login(client, login="client@example.com", password="Wrong2026", action="signin")
    post_login(client, login="client@example.com", password=temporary, action="signin")
    page = client.get("/password/change")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/password/change", data={"csrf_token": token, "temporary": temporary, "new": "Polis2026",
                                          "confirm": "Polis2026"})
    post_login(client, login="client@example.com", password="Polis2026", action="signin")
    return temporary


def test_journey_events_in_order_with_origin(client, make_account, mailbox, clock, run_cli):
    client.environ_base.update({"REMOTE_ADDR": "192.0.2.7", "HTTP_USER_AGENT": "Test Browser/1.0"})
    temporary = journey(client, make_account, mailbox, clock)
    result = run_cli("audit", "--json", "--account", "client@example.com")
    assert result.exit_code == 0, result.output
    events = json.loads(result.output)
    assert [e["event"] for e in reversed(events)] == [
        "account.created", "temporary.issued", "signin.failure", "signin.temporary",
        "sessions.revoked", "password.changed", "signin.success"]
    web = [e for e in events if e["event"] != "account.created"]
    assert all(e["ip"] == "192.0.2.7" and e["user_agent"] == "Test Browser/1.0" for e in web)
    # The request itself is recorded without an account: it is taken the same way for any login.
    [requested] = json.loads(run_cli("audit", "--json", "--event", "reset.requested").output)
    assert requested["account_id"] is None and requested["ip"] == "192.0.2.7"
    assert temporary not in result.output and "Polis2026" not in result.output


def test_filters(client, make_account, mailbox, clock, run_cli):
    journey(client, make_account, mailbox, clock)
    signins = json.loads(run_cli("audit", "--json", "--event", "signin.*").output)
    assert {e["event"] for e in signins} == {"signin.failure", "signin.temporary", "signin.success"}
    assert json.loads(run_cli("audit", "--json", "--since", "2030-01-01").output) == []
    assert run_cli("audit", "--since", "yesterday").exit_code == 2


def test_unknown_login_failures_are_recorded_without_an_account(client, run_cli):
    post_login(client, login="nobody@example.com", password="Wrong2026", action="signin")
    [event] = json.loads(run_cli("audit", "--json", "--event", "signin.failure").output)
    assert event["account_id"] is None and "nobody" not in json.dumps(event)


def test_secrets_cannot_be_recorded(app, clock):
    with app.app_context(), pytest.raises(ValueError):
        record("signin.failure", at=clock.now(), password="Polis2026")
