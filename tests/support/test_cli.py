"""``idp support …`` and ``idp accounts grant-support|revoke-support``: the same rules, from a terminal."""
from __future__ import annotations

import getpass
import json

import pytest
from sqlalchemy import select

from idp.accounts import Account
from idp.audit import AuditEvent
from idp.extensions import db
from idp.passwords import TemporaryPassword
from idp.passwords.signin import BLOCKED, OK, THROTTLED, authenticate
from idp.audit import Origin

ME = "cli:" + getpass.getuser()


def last_event(app, name):
    with app.app_context():
        return db.session.execute(select(AuditEvent).where(AuditEvent.event == name)
                                  .order_by(AuditEvent.id.desc())).scalars().first()


@pytest.mark.parametrize("query", ["8 (916) 123-45-67", "ivan@example.com", "LF-SUP-000001"])
def test_find(run_cli, customer, query):
    result = run_cli("support", "find", query, "--json")
    assert result.exit_code == 0, result.output
    [found] = json.loads(result.output)
    assert found["subject"] == customer["subject"] and found["email"] == "i***@example.com"
    assert "ivan@example.com" not in result.output
    human = run_cli("support", "find", query)
    assert human.exit_code == 0 and customer["subject"] in human.output


def test_find_by_name_needs_a_birth_date(run_cli, customer):
    refused = run_cli("support", "find", "Иванов Иван", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.output)["error"] == "support.query.too_broad"
    found = run_cli("support", "find", "иванов иван", "--birth-date", "1980-05-17", "--json")
    assert [a["subject"] for a in json.loads(found.output)] == [customer["subject"]]
    bad = run_cli("support", "find", "Иванов", "--birth-date", "17.05.1980", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["error"] == "account.invalid_birth_date"


def test_nothing_found_and_malformed_phone(run_cli, customer):
    none = run_cli("support", "find", "nobody@example.com", "--json")
    assert none.exit_code == 0 and json.loads(none.output) == []
    assert "no account found" in run_cli("support", "find", "nobody@example.com").output
    bad = run_cli("support", "find", "8 (916) 123-45", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["error"] == "support.query.invalid_phone"
    human = run_cli("support", "find", "8 (916) 123-45")
    assert human.exit_code == 1 and "not a valid phone number" in human.output


def test_show_and_it_is_audited(app, run_cli, customer):
    result = run_cli("support", "show", "+7 916 123 45 67", "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert view["subject"] == customer["subject"] and view["state"] == "waiting"
    assert {m["purpose"] for m in view["messages"]} == {"account_created"}
    event = last_event(app, "support.viewed")
    assert event.account_id == customer["account_id"] and event.details == {"operator": ME, "via": "cli"}
    human = run_cli("support", "show", customer["subject"])
    assert human.exit_code == 0 and "state: waiting" in human.output and "account_created email" in human.output
    missing = run_cli("support", "show", "nobody@example.com", "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "support.not_found"


@pytest.mark.parametrize("command", ["send-temporary-password", "resend-welcome", "unlock", "block", "unblock",
                                     "sign-out"])
def test_every_action_needs_a_reason(run_cli, customer, command):
    missing = run_cli("support", command, "ivan@example.com", "--json")
    assert missing.exit_code == 2 and "--reason" in missing.output
    empty = run_cli("support", command, "ivan@example.com", "--reason", " ", "--json")
    assert empty.exit_code == 1 and json.loads(empty.output)["error"] == "support.reason.required"
    done = run_cli("support", command, "LF-SUP-000001", "--reason", "звонок клиента", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["action"] == command.replace("-", "_") and data["repeated"] is False


def test_send_temporary_password(app, run_cli, customer, mailbox):
    result = run_cli("support", "send-temporary-password", "8 916 123-45-67", "--reason", "не пришло письмо")
    assert result.exit_code == 0, result.output
    temporary = mailbox.temporary_password("ivan@example.com")
    assert temporary not in result.output
    event = last_event(app, "support.send_temporary_password")
    assert event.details["operator"] == ME and event.details["reason"] == "не пришло письмо"
    with app.app_context():
        assert db.session.execute(select(TemporaryPassword)).scalar_one().account_id == customer["account_id"]


def test_block_unblock_sign_out(app, run_cli, customer):
    with app.app_context():
        services = app.extensions["idp"]
        account = db.session.get(Account, customer["account_id"])
        account.password_hash = services.hasher.hash("Polis2026")
        db.session.commit()
    assert run_cli("support", "block", "ivan@example.com", "--reason", "мошенничество").exit_code == 0
    with app.app_context():
        assert authenticate("ivan@example.com", "Polis2026", app.extensions["idp"]).outcome == BLOCKED
    again = run_cli("support", "send-temporary-password", "ivan@example.com", "--reason", "x", "--json")
    assert again.exit_code == 1 and json.loads(again.output)["error"] == "support.blocked"
    assert run_cli("support", "unblock", "ivan@example.com", "--reason", "разобрались").exit_code == 0
    result = run_cli("support", "sign-out", "ivan@example.com", "--reason", "потерял телефон", "--json")
    assert json.loads(result.output)["details"] == {"sessions": 0, "tokens": 0}
    with app.app_context():
        assert authenticate("ivan@example.com", "Polis2026", app.extensions["idp"]).outcome == OK


def test_unlock(app, run_cli, customer):
    with app.app_context():
        services = app.extensions["idp"]
        account = db.session.get(Account, customer["account_id"])
        account.password_hash = services.hasher.hash("Polis2026")
        db.session.commit()
        for _ in range(6):
            authenticate("ivan@example.com", "Wrong2026", services, Origin(ip="203.0.113.9"))
        assert authenticate("ivan@example.com", "Polis2026", services, Origin(ip="203.0.113.9")).outcome == THROTTLED
    shown = json.loads(run_cli("support", "show", "ivan@example.com", "--json").output)
    assert shown["lockouts"] and shown["lockouts"][0]["seconds_left"] > 0
    assert "s left" in run_cli("support", "show", "ivan@example.com").output
    result = run_cli("support", "unlock", "ivan@example.com", "--reason", "сам себя заблокировал", "--json")
    assert json.loads(result.output)["details"]["counters"] == 2
    with app.app_context():
        assert authenticate("ivan@example.com", "Polis2026", app.extensions["idp"],
                            Origin(ip="203.0.113.9")).outcome == OK


def test_grant_and_revoke_support(app, run_cli, make_account):
    make_account(email="agent@example.com")
    granted = run_cli("accounts", "grant-support", "agent@example.com", "--json")
    assert granted.exit_code == 0 and json.loads(granted.output)["is_support"] is True
    event = last_event(app, "admin.action")
    assert event.details == {"action": "grant_support", "via": "cli"}
    revoked = run_cli("accounts", "revoke-support", "AGENT@example.com", "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.output)["is_support"] is False
    assert last_event(app, "admin.action").details["action"] == "revoke_support"
    with app.app_context():
        assert db.session.execute(select(Account.is_support)).scalar_one() is False
    missing = run_cli("accounts", "grant-support", "nobody@example.com", "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "account.not_found"
