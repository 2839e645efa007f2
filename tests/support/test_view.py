"""The account page's data: masked contacts, state, policies, messages, lockouts, sessions, applications, audit."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from idp.audit import AuditEvent, Origin
from idp.extensions import db
from idp.passwords.reset import request_temporary_password
from idp.passwords.signin import authenticate
from idp.support import account_view, record_view
from idp.support.view import ACTIVE, BLOCKED, TEMPORARY_PENDING, WAITING
from tests.support.conftest import account_of


def test_masked_contacts_and_state_waiting(ctx, customer):
    view = account_view(ctx, account_of(customer), ctx.clock.now())
    json.dumps(view)  # JSON-ready
    assert view["email"] == "i***@example.com" and view["phone"] == "+791***67"
    assert view["state"] == WAITING and view["temporary_expires_at"] is None
    assert view["subject"] == customer["subject"]
    text = json.dumps(view, ensure_ascii=False)
    assert "ivan@example.com" not in text and "+79161234567" not in text


def test_state_temporary_pending_active_blocked(ctx, customer, clock, mailbox):
    request_temporary_password("ivan@example.com", ctx)
    view = account_view(ctx, account_of(customer), clock.now())
    assert view["state"] == TEMPORARY_PENDING
    assert view["temporary_expires_at"] == (clock.now() + timedelta(hours=24)).isoformat() + "Z"
    assert view["temporary_channel"] == "email"
    temporary = mailbox.temporary_password("ivan@example.com")
    # The temporary password is in no field of the view.
    assert temporary not in json.dumps(view, ensure_ascii=False)
    clock.advance(hours=25)
    assert account_view(ctx, account_of(customer), clock.now())["state"] == WAITING
    account = account_of(customer)
    account.password_hash = ctx.hasher.hash("Polis2026")
    account.password_changed_at = clock.now()
    db.session.commit()
    assert account_view(ctx, account, clock.now())["state"] == ACTIVE
    account.disabled_at = clock.now()
    db.session.commit()
    view = account_view(ctx, account, clock.now())
    assert view["state"] == BLOCKED and view["since"] == clock.now().isoformat() + "Z"


def test_policies_with_what_eligibility_decided(ctx, customer):
    from idp.policies import issue_policy
    from tests.policies.conftest import policy_doc

    issue_policy(ctx, policy_doc(number="CR-SUP-1", kind="credit"), source="test")
    view = account_view(ctx, account_of(customer), ctx.clock.now())
    by_number = {p["number"]: p for p in view["policies"]}
    assert by_number["LF-SUP-000001"]["state"] == "attached" and by_number["LF-SUP-000001"]["attached_here"]
    refused = by_number.get("CR-SUP-1")
    assert refused is not None and refused["state"] == "refused" and refused["reason"]
    assert refused["reason_text"]


def test_messages_every_state_never_the_text(ctx, customer, mailbox):
    view = account_view(ctx, account_of(customer), ctx.clock.now())
    welcome = [m for m in view["messages"] if m["purpose"] == "account_created"]
    assert {m["channel"] for m in welcome} == {"email", "sms"}
    for message in welcome:
        assert message["status"] == "sent" and message["sent_at"] and message["created_at"]
        assert "provider_message_id" in message
        assert message["recipient"] in ("i***@example.com", "+791***67")
        assert set(message) >= {"purpose", "channel", "recipient", "status", "state", "created_at", "sent_at",
                                "outcome_at", "provider_message_id"}
        assert "payload" not in message and "text" not in message and "params" not in message
    request_temporary_password("ivan@example.com", ctx)
    temporary = mailbox.temporary_password("ivan@example.com")
    view = account_view(ctx, account_of(customer), ctx.clock.now())
    assert [m["purpose"] for m in view["messages"]][0] == "temporary_password"
    assert temporary not in json.dumps(view, ensure_ascii=False)


def test_lockouts_with_seconds_left(ctx, customer, clock):
    for _ in range(6):
        authenticate("ivan@example.com", "wrong-password", ctx, Origin(ip="203.0.113.9"))
    view = account_view(ctx, account_of(customer), clock.now())
    [lockout] = view["lockouts"]
    assert lockout["login"] == "email" and lockout["counter"] == "address"
    assert lockout["seconds_left"] > 0 and lockout["blocked_until"]
    assert "key" not in lockout
    clock.advance(seconds=lockout["seconds_left"])
    assert account_view(ctx, account_of(customer), clock.now())["lockouts"] == []


def test_sessions_applications_and_events_with_names(ctx, customer, signed_in, operator):
    client_id, _ = signed_in(customer["account_id"])
    from idp.audit import record

    record("token.issued", at=ctx.clock.now(), account_id=customer["account_id"], client_id=client_id)
    record_view(operator, account_of(customer), ctx.clock.now())
    db.session.commit()
    view = account_view(ctx, account_of(customer), ctx.clock.now())
    [session] = view["sessions"]
    assert session["signed_in_at"] and session["expires_at"]
    [application] = view["applications"]
    assert application["client"] == "Личный кабинет" and application["scopes"] == ["openid", "profile"]
    events = view["events"]
    assert events[0]["event"] == "support.viewed" and events[0]["details"]["operator"] == "agent@example.com"
    issued = next(e for e in events if e["event"] == "token.issued")
    assert issued["client"] == "Личный кабинет" and issued["login"] == "i***@example.com"
    for event in events:
        assert "account_id" not in event and not any(k.endswith("account_id") for k in event["details"])
    assert len(events) <= 20


def test_only_the_last_twenty_events(ctx, customer):
    from idp.audit import record

    for n in range(25):
        record("signin.failure", at=ctx.clock.now() + timedelta(seconds=n), account_id=customer["account_id"])
    db.session.commit()
    events = account_view(ctx, account_of(customer), ctx.clock.now())["events"]
    assert len(events) == 20 and events[0]["at"] == (ctx.clock.now() + timedelta(seconds=24)).isoformat() + "Z"


def test_record_view_audits_who_looked_at_whom(ctx, customer, operator):
    record_view(operator, account_of(customer), ctx.clock.now())
    db.session.commit()
    row = db.session.execute(select(AuditEvent).where(AuditEvent.event == "support.viewed")).scalar_one()
    assert row.account_id == customer["account_id"] and row.ip == "10.0.0.5"
    assert row.details == {"operator": "agent@example.com", "via": "web"}
