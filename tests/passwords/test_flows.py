"""«Забыли пароль?», sign-in and the forced change as domain calls, with the clock under control."""
from datetime import timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from idp.accounts import Account
from idp.extensions import db
from idp.oidc.backchannel import end_account_grants
from idp.passwords import TemporaryPassword
from idp.passwords.change import change_with_temporary
from idp.passwords.reset import request_temporary_password
from idp.passwords.signin import BLOCKED, CHANGE_REQUIRED, INVALID, OK, authenticate

LOGIN = "client@example.com"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app.extensions["idp"]


def issue(services, mailbox, login=LOGIN, to=LOGIN):
    request_temporary_password(login, services)
    return mailbox.temporary_password(to)


def change(account, temporary, new, confirm, services):
    """The forced change as the page makes it: the OpenID Connect layer's revocation passed in."""
    return change_with_temporary(account, temporary, new, confirm, services, revoke_tokens=partial(end_account_grants, services,
                                                                                         via="password_change"))


def account(email=LOGIN):
    return db.session.execute(select(Account).where(Account.email == email)).scalar_one()


def test_temporary_password_is_stored_only_as_a_hash(ctx, make_account, mailbox):
    make_account(email=LOGIN)
    temporary = issue(ctx, mailbox)
    row = db.session.execute(select(TemporaryPassword)).scalar_one()
    assert temporary not in row.password_hash and row.password_hash.startswith("$idp-hmac1$$2b$")
    assert row.expires_at - row.created_at == timedelta(hours=24)


def test_expiry_boundary_to_the_second(ctx, make_account, mailbox, clock):
    make_account(email=LOGIN)
    temporary = issue(ctx, mailbox)
    clock.advance(hours=24, seconds=-1)
    assert authenticate(LOGIN, temporary, ctx).outcome == CHANGE_REQUIRED
    clock.advance(seconds=1)
    assert authenticate(LOGIN, temporary, ctx).outcome == INVALID
    assert change(account(), temporary, "Polis2026", "Polis2026", ctx) == [
        "password.temporary_expired"]


def test_configurable_lifetime(make_app, make_account, mailbox, clock):
    app = make_app(temp_password_ttl=600)
    with app.app_context():
        services = app.extensions["idp"]
        db.session.add(Account(email=LOGIN, created_at=clock.now()))
        db.session.commit()
        temporary = issue(services, mailbox)
        clock.advance(seconds=599)
        assert authenticate(LOGIN, temporary, services).outcome == CHANGE_REQUIRED
        clock.advance(seconds=1)
        assert authenticate(LOGIN, temporary, services).outcome == INVALID


def test_newer_request_replaces_older(ctx, make_account, mailbox, clock):
    make_account(email=LOGIN)
    first = issue(ctx, mailbox)
    clock.advance(minutes=1)
    second = issue(ctx, mailbox)
    assert authenticate(LOGIN, first, ctx).outcome == INVALID
    assert authenticate(LOGIN, second, ctx).outcome == CHANGE_REQUIRED


def test_permanent_password_keeps_working_until_temporary_is_used(ctx, make_account, mailbox):
    make_account(email=LOGIN, password="Polis2026")
    temporary = issue(ctx, mailbox)  # a stranger typed the login: nothing is locked
    assert authenticate(LOGIN, "Polis2026", ctx).outcome == OK
    assert authenticate(LOGIN, temporary, ctx).outcome == CHANGE_REQUIRED
    assert change(account(), temporary, "Strah2027", "Strah2027", ctx) == []
    assert authenticate(LOGIN, "Polis2026", ctx).outcome == INVALID
    assert authenticate(LOGIN, "Strah2027", ctx).outcome == OK


def test_single_use(ctx, make_account, mailbox):
    make_account(email=LOGIN)
    temporary = issue(ctx, mailbox)
    assert change(account(), temporary, "Polis2026", "Polis2026", ctx) == []
    assert authenticate(LOGIN, temporary, ctx).outcome == INVALID
    assert change(account(), temporary, "Strah2027", "Strah2027", ctx) == [
        "password.temporary_invalid"]
    assert account().email_verified is True


@pytest.mark.parametrize("temporary_typed, new, confirm, expected", [
    (None, "abc", "abc", ["password.rule.length", "password.rule.upper", "password.rule.digit"]),
    (None, "Polis2026", "Polis2027", ["password.confirm_mismatch"]),
    ("WRONG234", "Polis2026", "Polis2026", ["password.temporary_invalid"]),
    ("", "Polis2026", "Polis2026", ["password.temporary_required"]),
    ("SAME", "SAME", "SAME", ["password.same_as_temporary"]),
    ("WRONG234", "short", "other", ["password.rule.length", "password.rule.upper", "password.rule.digit",
                                    "password.confirm_mismatch", "password.temporary_invalid"]),
])
def test_every_problem_is_reported_together(ctx, make_account, mailbox, temporary_typed, new, confirm, expected):
    make_account(email=LOGIN)
    temporary = issue(ctx, mailbox)
    if temporary_typed is None:
        temporary_typed = temporary
    if temporary_typed == "SAME":
        temporary_typed = new = confirm = temporary
    assert change(account(), temporary_typed, new, confirm, ctx) == expected
    assert account().password_hash is None  # nothing changed


def test_unknown_login_does_the_same_work_and_sends_nothing(ctx, mailbox):
    result = request_temporary_password("nobody@example.com", ctx)
    assert result.login.value == "nobody@example.com" and result.delivered and mailbox.messages() == []
    assert db.session.execute(select(func.count()).select_from(TemporaryPassword)).scalar() == 0


def test_phone_login_gets_an_sms(ctx, make_account, mailbox):
    make_account(email=LOGIN, phone="+79161234567")
    request_temporary_password("8 (916) 123 45 67", ctx)
    message = mailbox.last("+79161234567")
    assert message["channel"] == "sms" and message["subject"] == "" and message["html"] == ""
    assert message["text"].startswith("Ваш новый пароль для входа в Личный кабинет - ")
    assert mailbox.messages(LOGIN) == []


def test_email_follows_the_seed(ctx, make_account, mailbox, settings):
    make_account(email=LOGIN)
    temporary = issue(ctx, mailbox)
    message = mailbox.last(LOGIN)
    assert message["from"] == "eservices@metlife.ru"
    for body in (message["text"], message["html"]):
        assert "Ваш пароль для входа в Личный кабинет МетЛайф успешно сброшен." in body
        assert temporary in body and settings.issuer + "/login" in body
        assert "8 (499) 215 6424" in body and "8-800-775 64 24" in body
    assert "Войти в Личный кабинет" in message["html"]


def test_disabled_account_cannot_sign_in_or_reset(ctx, make_account, mailbox, clock):
    make_account(email=LOGIN, password="Polis2026")
    acct = account()
    acct.disabled_at = clock.now()
    db.session.commit()
    # Only the right password learns that the account is blocked (issue 24: a plain message on the page).
    assert authenticate(LOGIN, "Polis2026", ctx).outcome == BLOCKED
    assert authenticate(LOGIN, "Wrong2026", ctx).outcome == INVALID
    request_temporary_password(LOGIN, ctx)
    assert mailbox.messages() == []
