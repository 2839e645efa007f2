"""The operator's actions: a reason each (audited with the operator's login), done once per token."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from idp.accounts.models import OperatorAction
from idp.audit import AuditEvent, Origin
from idp.delivery.models import Delivery
from idp.extensions import db
from idp.oidc import OAuthToken
from idp.passwords import TemporaryPassword
from idp.passwords.signin import BLOCKED, CHANGE_REQUIRED, INVALID, OK, THROTTLED, authenticate
from idp.sessions import BrowserSession
from idp.support import (ACTIONS, InvalidReason, InvalidToken, block, perform, resend_welcome,
                         send_temporary_password, sign_out, unblock, unlock)
from tests.support.conftest import account_of


def events(name):
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.event == name)).scalars())


def count(model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar()


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501, "line\nbreak", "tab\there", "nul\x00"])
def test_a_reason_is_required(ctx, customer, operator, action, reason):
    with pytest.raises(InvalidReason) as caught:
        perform(ctx, operator, account_of(customer), action, reason=reason)
    assert caught.value.code.startswith("support.reason.")
    db.session.rollback()
    assert count(AuditEvent, AuditEvent.event.like("support.%")) == 0
    assert count(OperatorAction) == 0


@pytest.mark.parametrize("token", ["", "x" * 65, "токен", "a\nb"])
def test_a_malformed_token_is_refused(ctx, customer, operator, token):
    with pytest.raises(InvalidToken):
        unblock(ctx, operator, account_of(customer), reason="asked", token=token)


def test_every_action_is_audited_with_the_operator_and_reason(ctx, customer, operator):
    for action in ACTIONS:
        result = perform(ctx, operator, account_of(customer), action, reason=f"клиент позвонил: {action}")
        assert result.action == action and not result.repeated
        [row] = events(f"support.{action}")
        assert row.account_id == customer["account_id"] and row.ip == "10.0.0.5"
        assert row.details["operator"] == "agent@example.com" and row.details["via"] == "web"
        assert row.details["reason"] == f"клиент позвонил: {action}"


def test_unknown_action(ctx, customer, operator):
    from idp.errors import BadRequest

    with pytest.raises(BadRequest):
        perform(ctx, operator, account_of(customer), "delete", reason="x")


# -- once per token ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_a_double_submit_does_it_once(ctx, customer, operator, action):
    first = perform(ctx, operator, account_of(customer), action, reason="once", token="form-token-1")
    again = perform(ctx, operator, account_of(customer), action, reason="once", token="form-token-1")
    assert not first.repeated and again.repeated and again.action == action
    assert len(events(f"support.{action}")) == 1
    assert count(OperatorAction, OperatorAction.token == "form-token-1") == 1
    other = perform(ctx, operator, account_of(customer), action, reason="again", token="form-token-2")
    assert not other.repeated and len(events(f"support.{action}")) == 2


def test_a_token_of_another_action_is_refused(ctx, customer, operator):
    unblock(ctx, operator, account_of(customer), reason="x", token="t-1")
    with pytest.raises(InvalidToken) as caught:
        sign_out(ctx, operator, account_of(customer), reason="x", token="t-1")
    assert caught.value.code == "support.token.reused"


def test_a_double_submit_queues_one_temporary_password(ctx, customer, operator, mailbox):
    before = len(mailbox.messages("ivan@example.com"))
    send_temporary_password(ctx, operator, account_of(customer), reason="не пришло", token="tp-1")
    send_temporary_password(ctx, operator, account_of(customer), reason="не пришло", token="tp-1")
    assert len(mailbox.messages("ivan@example.com")) == before + 1
    assert count(TemporaryPassword) == 1


# -- the actions themselves --------------------------------------------------------------------------------


def test_resend_welcome(ctx, customer, operator, mailbox):
    before = count(Delivery, Delivery.template == "account_created")
    result = resend_welcome(ctx, operator, account_of(customer), reason="не получил письмо")
    assert count(Delivery, Delivery.template == "account_created") == before + 2
    assert sorted(result.details["channels"]) == ["email", "sms"]
    assert "Мы зарегистрировали" in mailbox.last("ivan@example.com")["text"]


def test_send_temporary_password_is_what_forgot_password_does(ctx, customer, operator, mailbox):
    result = send_temporary_password(ctx, operator, account_of(customer), reason="забыл пароль")
    assert result.details["channel"] == "email" and result.details["delivered"] is True
    temporary = mailbox.temporary_password("ivan@example.com")
    # The operator never sees it: not in the result, not in the audit.
    assert temporary not in repr(result.as_dict())
    assert all(temporary not in repr(row.details) for row in db.session.execute(select(AuditEvent)).scalars())
    assert authenticate("ivan@example.com", temporary, ctx).outcome == CHANGE_REQUIRED
    assert len(events("reset.requested")) == 1


def test_send_temporary_password_to_the_phone_of_a_phone_only_account(ctx, make_account, operator):
    account = make_account(email=None, phone="+7 916 777-66-55")
    result = send_temporary_password(ctx, operator, account_of({"account_id": account.id}), reason="SMS")
    assert result.details["channel"] == "sms"
    assert db.session.execute(select(TemporaryPassword)).scalar_one().channel == "sms"


def test_send_temporary_password_in_worker_mode_goes_through_the_worker(make_app, operator, mailbox):
    from idp.accounts import create_account
    from idp.passwords.reset import issue_pending

    app = make_app(delivery_mode="worker")
    with app.app_context():
        services = app.extensions["idp"]
        account = create_account(email="w@example.com", now=services.clock.now())
        db.session.commit()
        send_temporary_password(services, operator, account, reason="worker")
        assert count(TemporaryPassword) == 0 and mailbox.messages("w@example.com") == []
        issue_pending(services)
        assert count(TemporaryPassword) == 1
        assert count(Delivery, Delivery.template == "temporary_password", Delivery.status == "queued") == 1


def test_block_ends_sessions_revokes_tokens_and_sign_in_says_blocked(ctx, customer, operator, signed_in):
    account = account_of(customer)
    account.password_hash = ctx.hasher.hash("Polis2026")
    db.session.commit()
    signed_in(customer["account_id"])
    result = block(ctx, operator, account_of(customer), reason="мошенничество")
    assert result.details == {"sessions": 1, "tokens": 1}
    assert account_of(customer).disabled_at == ctx.clock.now()
    assert count(BrowserSession, BrowserSession.ended_at.is_(None)) == 0
    assert count(OAuthToken, OAuthToken.revoked_at.is_(None)) == 0
    # The right password: the plain "blocked" answer; a wrong one: the usual answer, nothing revealed.
    assert authenticate("ivan@example.com", "Polis2026", ctx).outcome == BLOCKED
    assert authenticate("ivan@example.com", "Wrong2026", ctx).outcome == INVALID
    assert len(events("signin.blocked")) == 1
    unblock(ctx, operator, account_of(customer), reason="разобрались")
    assert account_of(customer).disabled_at is None
    assert authenticate("ivan@example.com", "Polis2026", ctx).outcome == OK


def test_a_blocked_account_with_a_temporary_password_is_blocked_too(ctx, customer, operator, mailbox):
    send_temporary_password(ctx, operator, account_of(customer), reason="x")
    temporary = mailbox.temporary_password("ivan@example.com")
    block(ctx, operator, account_of(customer), reason="y")
    assert authenticate("ivan@example.com", temporary, ctx).outcome == BLOCKED


def test_sign_out_everywhere(ctx, customer, operator, signed_in):
    signed_in(customer["account_id"])
    result = sign_out(ctx, operator, account_of(customer), reason="потерял телефон")
    assert result.details == {"sessions": 1, "tokens": 1}
    assert count(BrowserSession, BrowserSession.ended_at.is_(None)) == 0
    assert count(OAuthToken, OAuthToken.revoked_at.is_(None)) == 0
    assert account_of(customer).disabled_at is None


def test_unlock_lifts_every_lockout_of_the_logins(ctx, customer, operator, clock):
    account = account_of(customer)
    account.password_hash = ctx.hasher.hash("Polis2026")
    db.session.commit()
    for address in ("203.0.113.9", "198.51.100.7"):
        for _ in range(6):
            authenticate("ivan@example.com", "Wrong2026", ctx, Origin(ip=address))
        assert authenticate("ivan@example.com", "Polis2026", ctx, Origin(ip=address)).outcome == THROTTLED
    for _ in range(6):
        authenticate("8 916 123-45-67", "Wrong2026", ctx, Origin(ip="203.0.113.9"))
    result = unlock(ctx, operator, account_of(customer), reason="заблокировал себя")
    assert result.details["counters"] == 5  # two addresses and the login's own, for the e-mail; one + own for the phone
    for address in ("203.0.113.9", "198.51.100.7"):
        assert authenticate("ivan@example.com", "Polis2026", ctx, Origin(ip=address)).outcome == OK
    assert authenticate("+79161234567", "Polis2026", ctx, Origin(ip="203.0.113.9")).outcome == OK
    from idp.support import account_view
    assert account_view(ctx, account_of(customer), clock.now())["lockouts"] == []


def test_unlock_leaves_other_logins_alone(ctx, customer, operator, make_account):
    other = make_account(email="other@example.com", password="Polis2026")
    for _ in range(6):
        authenticate("other@example.com", "Wrong2026", ctx, Origin(ip="203.0.113.9"))
    unlock(ctx, operator, account_of(customer), reason="x")
    assert authenticate("other@example.com", "Polis2026", ctx, Origin(ip="203.0.113.9")).outcome == THROTTLED
    assert other.id != customer["account_id"]


def test_no_temporary_password_for_a_blocked_account(ctx, customer, operator, mailbox):
    from idp.errors import Conflict

    block(ctx, operator, account_of(customer), reason="x")
    before = len(mailbox.messages())
    with pytest.raises(Conflict) as caught:
        send_temporary_password(ctx, operator, account_of(customer), reason="y")
    assert caught.value.code == "support.blocked" and len(mailbox.messages()) == before
    assert events("support.send_temporary_password") == []


def test_a_temporary_password_held_back_by_the_limits_says_so(ctx, customer, operator, mailbox, clock):
    first = send_temporary_password(ctx, operator, account_of(customer), reason="1")
    assert first.details["limited"] is False
    # The login's limit of one request a minute (from inside: no address) holds the second back.
    second = send_temporary_password(ctx, operator, account_of(customer), reason="2")
    assert second.details["limited"] is True
    assert len(mailbox.messages(to="ivan@example.com")) == 2  # the welcome and the first temporary password
    clock.advance(seconds=61)
    assert send_temporary_password(ctx, operator, account_of(customer), reason="3").details["limited"] is False
