"""Growing waits after failed sign-ins, limits on «Забыли пароль?», a temporary password's five tries."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from idp.audit import Origin
from idp.extensions import db
from idp.passwords.reset import request_temporary_password
from idp.passwords.signin import CHANGE_REQUIRED, INVALID, OK, THROTTLED, authenticate
from idp.throttling import WaitPolicy
from tests.http import codes
from tests.web.test_pages import post_login

LOGIN = "client@example.com"


@pytest.mark.parametrize("failures, wait", [
    (1, None), (4, None), (5, 30), (6, 60), (7, 120), (8, 240), (9, 480), (10, 900), (11, 900), (50, 900),
])
def test_wait_schedule(failures, wait):
    expected = None if wait is None else timedelta(seconds=wait)
    assert WaitPolicy().wait(failures) == expected


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app.extensions["idp"]


@pytest.mark.parametrize("known", [True, False])
def test_waits_grow_from_the_fifth_failure_and_end_exactly(ctx, make_account, clock, known):
    if known:
        make_account(email=LOGIN, password="Polis2026")
    for _ in range(5):
        assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.1")).outcome == INVALID
    result = authenticate(LOGIN, "Polis2026", ctx, Origin(ip="10.0.0.1"))
    assert (result.outcome, result.retry_after) == (THROTTLED, 30)
    clock.advance(seconds=29)
    assert authenticate(LOGIN, "Polis2026", ctx, Origin(ip="10.0.0.1")).retry_after == 1
    clock.advance(seconds=1)
    assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.1")).outcome == INVALID  # the 6th
    assert authenticate(LOGIN, "Polis2026", ctx, Origin(ip="10.0.0.1")).retry_after == 60
    clock.advance(seconds=60)
    assert authenticate(LOGIN, "Polis2026", ctx, Origin(ip="10.0.0.1")).outcome == (OK if known else INVALID)


def test_success_forgives_and_the_wait_is_capped(ctx, make_account, clock):
    make_account(email=LOGIN, password="Polis2026")
    for _ in range(4):
        authenticate(LOGIN, "Wrong2026", ctx)
    assert authenticate(LOGIN, "Polis2026", ctx).outcome == OK
    for _ in range(4):
        assert authenticate(LOGIN, "Wrong2026", ctx).outcome == INVALID
    for _ in range(12):  # keep failing after every wait: the wait stops growing at 15 minutes
        result = authenticate(LOGIN, "Wrong2026", ctx)
        assert result.outcome == INVALID
        clock.advance(minutes=15)
    authenticate(LOGIN, "Wrong2026", ctx)
    assert authenticate(LOGIN, "Polis2026", ctx).retry_after == 900


def test_per_address_limit_counts_across_logins(ctx, clock):
    for n in range(20):
        assert authenticate(f"c{n}@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
    assert authenticate("other@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == THROTTLED
    assert authenticate("other@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.10")).outcome == INVALID


def test_parallel_guesses_cannot_exceed_the_limit(app, make_account):
    make_account(email=LOGIN, password="Polis2026")
    outcomes, barrier = [], threading.Barrier(12)

    def guess():
        with app.app_context():
            barrier.wait()
            outcomes.append(authenticate(LOGIN, "Wrong2026", app.extensions["idp"]).outcome)
            db.session.remove()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count(INVALID) == 5 and outcomes.count(THROTTLED) == 7


def test_temporary_password_dies_after_five_wrong_tries(ctx, make_account, mailbox, clock):
    make_account(email=LOGIN)
    request_temporary_password(LOGIN, ctx)
    temporary = mailbox.temporary_password(LOGIN)
    for _ in range(4):
        authenticate(LOGIN, "Wrong2026", ctx)
    assert authenticate(LOGIN, temporary, ctx).outcome == CHANGE_REQUIRED  # 4 wrong tries: still alive
    for _ in range(5):
        authenticate(LOGIN, "Wrong2026", ctx)
    clock.advance(minutes=30)
    assert authenticate(LOGIN, temporary, ctx).outcome == INVALID


def test_reset_limits_per_login_keep_the_same_answer(client, make_account, mailbox, clock):
    make_account(email=LOGIN)
    first = post_login(client, login=LOGIN, action="forgot")
    second = post_login(client, login=LOGIN, action="forgot")
    assert codes(first.get_data(as_text=True)) == codes(second.get_data(as_text=True)) == ["reset.sent_email"]
    assert first.status_code == second.status_code == 200
    assert len(mailbox.messages(LOGIN)) == 1  # one a minute
    for _ in range(6):
        clock.advance(minutes=1)
        post_login(client, login=LOGIN, action="forgot")
    assert len(mailbox.messages(LOGIN)) == 5  # five an hour
    clock.advance(hours=1)
    post_login(client, login=LOGIN, action="forgot")
    assert len(mailbox.messages(LOGIN)) == 6


def test_throttled_page_says_how_long_in_russian_for_known_and_unknown(client, make_account):
    make_account(email=LOGIN, password="Polis2026")
    pages = {}
    for login in (LOGIN, "nobody@example.com"):
        for _ in range(5):
            post_login(client, login=login, password="Wrong2026", action="signin")
        pages[login] = post_login(client, login=login, password="Polis2026", action="signin")
    known, unknown = pages.values()
    for page in (known, unknown):
        html = page.get_data(as_text=True)
        assert page.status_code == 429 and page.headers["Retry-After"] == "30"
        assert codes(html) == ["signin.throttled"] and "Попробуйте снова через 1 мин." in html
