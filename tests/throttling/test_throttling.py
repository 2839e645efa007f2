"""Growing waits after failed sign-ins, limits on «Забыли пароль?», a temporary password's five tries, and
what a stranger with several addresses can and cannot do to a customer."""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import pytest

from idp.audit import Origin
from idp.extensions import db
from idp.passwords.reset import issue_pending, request_temporary_password
from idp.passwords.signin import CHANGE_REQUIRED, INVALID, OK, THROTTLED, authenticate
from idp.throttling import WaitPolicy
from tests.http import codes
from tests.web.test_pages import csrf, post_login

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


def test_many_customers_signing_in_from_one_address_are_never_held(ctx, make_account, clock):
    """An office, a NAT or a mobile carrier: 200 customers behind one address sign in; successes are not
    failures of the address, and after them the address still has its whole allowance of failures."""
    for n in range(200):
        make_account(email=f"office{n}@example.com", password="Polis2026")
    for n in range(200):
        result = authenticate(f"office{n}@example.com", "Polis2026", ctx, Origin(ip="10.0.0.9"))
        assert (result.outcome, result.retry_after) == (OK, 0), n
    for n in range(20):
        assert authenticate(f"office{n}@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
    assert authenticate("office199@example.com", "Polis2026", ctx, Origin(ip="10.0.0.9")).outcome == THROTTLED


def test_wrong_guesses_at_different_logins_from_one_address_are_held(ctx, make_account, clock):
    """Successes in between forgive nothing at the address: 20 wrong guesses at 20 different logins hold it."""
    for n in range(21):
        make_account(email=f"c{n}@example.com", password="Polis2026")
    for n in range(20):
        assert authenticate(f"c{n}@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
        assert authenticate("c20@example.com", "Polis2026", ctx, Origin(ip="10.0.0.9")).outcome == \
            (OK if n < 19 else THROTTLED)
    result = authenticate("c20@example.com", "Polis2026", ctx, Origin(ip="10.0.0.9"))
    assert (result.outcome, result.retry_after) == (THROTTLED, 30)
    assert authenticate("c20@example.com", "Polis2026", ctx, Origin(ip="10.0.0.10")).outcome == OK
    clock.advance(seconds=30)
    assert authenticate("c20@example.com", "Polis2026", ctx, Origin(ip="10.0.0.9")).outcome == OK


def test_attempts_refused_by_the_address_limit_do_not_count_for_the_login(ctx, make_account, clock):
    make_account(email=LOGIN, password="Polis2026")
    for n in range(20):
        assert authenticate(f"c{n}@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
    for _ in range(10):  # a stranger at a held address names the customer's login: nothing is counted for it
        assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == THROTTLED
    for _ in range(4):  # the customer, elsewhere, still has all five tries before a wait
        assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.10")).outcome == INVALID
    assert authenticate(LOGIN, "Polis2026", ctx, Origin(ip="10.0.0.10")).outcome == OK


def test_attempts_refused_by_the_login_limit_do_not_count_for_the_address(ctx, make_account, clock):
    make_account(email=LOGIN, password="Polis2026")
    for _ in range(5):
        assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
    for _ in range(30):  # refused for the login, no password checked: no failure of the address
        assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == THROTTLED
    for n in range(15):  # 5 + 15 = 20 failures: the address's allowance, and no more
        assert authenticate(f"c{n}@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == INVALID
    assert authenticate("other@example.com", "Wrong2026", ctx, Origin(ip="10.0.0.9")).outcome == THROTTLED


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


def test_wrong_passwords_at_sign_in_do_not_kill_the_temporary_password(ctx, make_account, mailbox, clock):
    """Anyone may type the customer's login: strangers' wrong passwords, from many addresses, leave the
    customer's temporary password alive (guessing is bounded by the throttles and its 24 hours)."""
    make_account(email=LOGIN)
    request_temporary_password(LOGIN, ctx, Origin(ip="10.0.0.1"))
    temporary = mailbox.temporary_password(LOGIN)
    for n in range(6):
        for _ in range(5):
            assert authenticate(LOGIN, "Wrong2026", ctx, Origin(ip=f"10.0.1.{n}")).outcome == INVALID
    assert authenticate(LOGIN, temporary, ctx, Origin(ip="10.0.0.1")).outcome == CHANGE_REQUIRED


def test_temporary_password_dies_after_five_wrong_tries_on_the_change_page(client, make_account, mailbox):
    """«Изменение пароля» is reached only by signing in with the temporary password: its tries are the
    customer's own, and the fifth wrong «Временный пароль» there kills it."""
    make_account(email=LOGIN)
    post_login(client, login=LOGIN, action="forgot")
    temporary = mailbox.temporary_password(LOGIN)
    assert post_login(client, login=LOGIN, password=temporary, action="signin").status_code == 302
    for _ in range(5):
        page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                     "temporary": "Wrong2026", "new": "Polis2027", "confirm": "Polis2027"})
        assert codes(page.get_data(as_text=True)) == ["password.temporary_invalid"]
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": temporary, "new": "Polis2027", "confirm": "Polis2027"})
    assert codes(page.get_data(as_text=True)) == ["password.temporary_invalid"]


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


# --- «Забыли пароль?»: the per-address limit -------------------------------------------------------------

ADDRESS, OTHER_ADDRESS = "203.0.113.7", "198.51.100.23"


def client_at(app, address: str):
    """A test client whose requests come from ``address`` (``request.remote_addr``)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def reset_rows(app) -> dict:
    """What the reset requests left behind: pending requests, temporary passwords, queued messages, events."""
    from sqlalchemy import func, select

    from idp.audit.models import AuditEvent
    from idp.delivery.models import Delivery
    from idp.passwords.models import ResetRequest, TemporaryPassword

    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
        events = db.session.execute(select(AuditEvent.event, AuditEvent.ip)
                                    .where(AuditEvent.event.in_(["reset.requested", "reset.limited"]))
                                    .order_by(AuditEvent.id)).all()
        return {"pending": count(ResetRequest), "temporary": count(TemporaryPassword), "queued": count(Delivery),
                "events": [tuple(row) for row in events]}


def test_reset_limit_per_address_cuts_off_many_logins_from_one_address_only(app, make_account, mailbox, clock):
    services = app.extensions["idp"]
    per_minute, window = services.settings.limits().reset_per_ip[0]
    # The documented default: ten a minute per address (max(10, IDP_RESET_PER_MINUTE × 10)).
    assert (per_minute, window) == (10, 60)
    logins = [make_account(email=f"c{n}@example.com").email for n in range(per_minute + 3)]
    allowed, refused, elsewhere = logins[:per_minute], logins[per_minute:per_minute + 2], logins[-1]
    one, other = client_at(app, ADDRESS), client_at(app, OTHER_ADDRESS)

    allowed_pages = [post_login(one, login=login, action="forgot") for login in allowed]
    assert [len(mailbox.messages(login)) for login in allowed] == [1] * per_minute
    before = reset_rows(app)
    assert (before["pending"], before["temporary"], before["queued"]) == (0, per_minute, per_minute)

    refused_pages = [post_login(one, login=login, action="forgot") for login in refused]
    # Past the limit: nothing written, nothing issued, nothing queued or sent, for either login.
    after = reset_rows(app)
    assert (after["pending"], after["temporary"], after["queued"]) == (0, per_minute, per_minute)
    assert [mailbox.messages(login) for login in refused] == [[], []]
    with app.app_context():
        assert issue_pending(services) == []  # no request was left waiting for a worker either
    assert after["events"] == [("reset.requested", ADDRESS)] * per_minute + [("reset.limited", ADDRESS)] * 2

    # The answer past the limit is the answer below it: same status, same text codes, same headers.
    for page in allowed_pages + refused_pages:
        assert page.status_code == 200
        assert codes(page.get_data(as_text=True)) == ["reset.sent_email"]
        assert set(page.headers.keys()) == set(allowed_pages[0].headers.keys())

    # Another address is not affected by the first one's count.
    page = post_login(other, login=elsewhere, action="forgot")
    assert page.status_code == 200 and codes(page.get_data(as_text=True)) == ["reset.sent_email"]
    assert len(mailbox.messages(elsewhere)) == 1
    assert reset_rows(app)["events"][-1] == ("reset.requested", OTHER_ADDRESS)

    # The first address's window ends: a refused login may ask again from there.
    clock.advance(seconds=window)
    post_login(one, login=refused[0], action="forgot")
    assert len(mailbox.messages(refused[0])) == 1


def test_reset_limit_per_address_counts_unknown_logins_and_the_hour(app, make_account, mailbox, clock):
    """Unknown logins count like known ones (the count never looks at accounts); past ten a minute the
    hourly limit of the address (50) ends the run, and it holds across minutes."""
    services = app.extensions["idp"]
    assert services.settings.limits().reset_per_ip == ((10, 60), (50, 3600))
    known = make_account(email="known@example.com").email
    one = client_at(app, ADDRESS)
    for minute in range(5):
        for n in range(10):
            post_login(one, login=f"nobody{minute}-{n}@example.com", action="forgot")
        clock.advance(minutes=1)
    page = post_login(one, login=known, action="forgot")
    assert page.status_code == 200 and codes(page.get_data(as_text=True)) == ["reset.sent_email"]
    assert mailbox.messages(known) == [], "the 51st request of the hour from one address was let through"
    events = reset_rows(app)["events"]
    assert events.count(("reset.requested", ADDRESS)) == 50 and events[-1] == ("reset.limited", ADDRESS)
    assert reset_rows(app)["temporary"] == 0  # the unknown logins were consumed without a trace
    other = make_account(email="other@example.com").email  # (the same login: see the test below)
    post_login(client_at(app, OTHER_ADDRESS), login=other, action="forgot")
    assert len(mailbox.messages(other)) == 1
    clock.advance(minutes=55)  # the hour of the first address is over
    post_login(one, login="nobody-later@example.com", action="forgot")
    assert reset_rows(app)["events"][-1] == ("reset.requested", ADDRESS)


def test_requests_refused_for_their_address_do_not_use_up_the_logins_quota(app, make_account, mailbox, clock):
    """An address over its limit gets nothing sent, so it must not spend other customers' quotas either:
    otherwise one address, however limited, can stop «Забыли пароль?» for any login it names."""
    victim = make_account(email="victim@example.com").email
    attacker = client_at(app, ADDRESS)
    for minute in range(5):  # each minute: ten requests fill the address's quota, then one names the victim
        for n in range(10):
            post_login(attacker, login=f"filler{minute}-{n}@example.com", action="forgot")
        post_login(attacker, login=victim, action="forgot")
        clock.advance(minutes=1)
    events = reset_rows(app)["events"]
    assert events.count(("reset.limited", ADDRESS)) == 5 and mailbox.messages(victim) == []
    # The customer, from their own address, within the same hour:
    post_login(client_at(app, OTHER_ADDRESS), login=victim, action="forgot")
    assert len(mailbox.messages(victim)) == 1  # the refused requests did not spend the login's quota


# --- A stranger with several addresses against one customer ---------------------------------------------

CUSTOMER_ADDRESS = "192.0.2.50"
ATTACKER_ADDRESSES = [f"203.0.113.{n}" for n in range(1, 6)]
TEMPORARY = re.compile(r"пароль[^-\n]*- ([A-Za-z0-9]{8})\b")


def newest_temporary_password(mailbox, login: str) -> str:
    """What the customer does: open the newest message that carries a temporary password."""
    found = [m for m in mailbox.messages(login) if TEMPORARY.search(m["text"])]
    assert found, f"no temporary password reached {login}"
    return TEMPORARY.search(found[-1]["text"]).group(1)


def change(client, temporary: str, new: str):
    return client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": temporary, "new": new, "confirm": new})


def test_a_stranger_at_five_addresses_for_an_hour_cannot_stop_the_first_sign_in(app, make_account, mailbox,
                                                                               clock):
    """Every minute for an hour, from each of five addresses, a stranger presses «Забыли пароль?» twice for the
    customer's login and types wrong passwords until refused. Meanwhile the customer, at their own address,
    gets a temporary password, signs in with it, completes «Изменение пароля» and signs in again."""
    make_account(email=LOGIN)
    attackers = [(attacker, csrf(attacker)) for attacker in map(lambda a: client_at(app, a), ATTACKER_ADDRESSES)]
    customer = client_at(app, CUSTOMER_ADDRESS)
    refused = failed = 0

    def attack_for(minutes: int) -> None:
        nonlocal refused, failed
        for _ in range(minutes):
            for attacker, token in attackers:
                post = lambda **form: attacker.post("/login", data={"csrf_token": token, **form})  # noqa: E731
                for _ in range(2):
                    post(login=LOGIN, action="forgot")
                for _ in range(20):  # until refused
                    page = post(login=LOGIN, password="Guess2026", action="signin")
                    if page.status_code == 429:
                        refused += 1
                        break
                    failed += 1
            clock.advance(minutes=1)

    attack_for(30)
    # The customer, half an hour into the attack.
    page = post_login(customer, login=LOGIN, action="forgot")
    assert page.status_code == 200 and codes(page.get_data(as_text=True)) == ["reset.sent_email"]
    temporary = newest_temporary_password(mailbox, LOGIN)
    page = post_login(customer, login=LOGIN, password=temporary, action="signin")
    assert page.status_code == 302 and page.headers["Location"] == "/password/change", \
        codes(page.get_data(as_text=True))
    assert change(customer, temporary, "Polis2027").status_code == 302
    attack_for(30)
    page = post_login(customer, login=LOGIN, password="Polis2027", action="signin")
    assert page.status_code == 302 and page.headers["Location"] == "/account", codes(page.get_data(as_text=True))
    # The stranger did do their worst: they were held at every address, and got through only a bounded
    # number of guesses (about a dozen an hour per address), below the login's ceiling.
    assert refused > 0 and 5 * 5 <= failed < app.extensions["idp"].settings.signin_login_ceiling


def test_past_the_logins_ceiling_the_customer_is_sent_to_the_contact_centre(app, make_account, clock):
    """Many addresses together reach the login's ceiling (100 failures): then the login waits everywhere,
    and the page says to call the contact centre — the same for a login that is no account."""
    make_account(email=LOGIN, password="Polis2026")
    for login in (LOGIN, "nobody@example.com"):
        for n in range(20):
            stranger = client_at(app, f"198.18.{n}.1")
            for _ in range(5):
                assert post_login(stranger, login=login, password="Guess2026", action="signin").status_code == 200
        page = post_login(client_at(app, CUSTOMER_ADDRESS), login=login, password="Polis2026", action="signin")
        html = page.get_data(as_text=True)
        assert page.status_code == 429 and page.headers["Retry-After"] == "30"
        assert codes(html) == ["signin.login_ceiling"] and "8 (800) 510 3 510" in html
    clock.advance(seconds=30)
    page = post_login(client_at(app, CUSTOMER_ADDRESS), login=LOGIN, password="Polis2026", action="signin")
    assert page.status_code == 302 and page.headers["Location"] == "/account"


def test_past_the_logins_reset_ceiling_the_customer_is_sent_to_the_contact_centre(app, make_account, mailbox,
                                                                                  clock):
    """Eight addresses asking five times an hour each use up the login's 40: the customer's own request is
    then answered with the contact centre, and nothing is sent; the next hour it works again."""
    make_account(email=LOGIN)
    for n in range(8):
        stranger = client_at(app, f"198.18.{n}.1")
        for _ in range(5):
            assert post_login(stranger, login=LOGIN, action="forgot").status_code == 200
            clock.advance(seconds=61)
    sent = len(mailbox.messages(LOGIN))
    assert sent == 40
    page = post_login(client_at(app, CUSTOMER_ADDRESS), login=LOGIN, action="forgot")
    html = page.get_data(as_text=True)
    assert page.status_code == 429 and codes(html) == ["reset.login_ceiling"] and "8 (800) 510 3 510" in html
    assert len(mailbox.messages(LOGIN)) == sent
    assert reset_rows(app)["events"][-1] == ("reset.limited", CUSTOMER_ADDRESS)
    clock.advance(hours=1)
    page = post_login(client_at(app, CUSTOMER_ADDRESS), login=LOGIN, action="forgot")
    assert codes(page.get_data(as_text=True)) == ["reset.sent_email"] and len(mailbox.messages(LOGIN)) == sent + 1


def test_windowed_counts_add_up_per_window_and_read_back(ctx, clock):
    """``add``/``count`` (the flood watch's shared tally) and ``hit`` on top of them, on both stores: a window is
    a fixed stretch of ``window`` seconds, counts add across callers, a new window starts from nothing."""
    store, start = ctx.throttler.store, clock.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock.advance(seconds=(start - clock.now()).total_seconds())
    assert store.count("tally", 60, clock.now()) == 0
    assert store.add("tally", 5, 60, clock.now()) == 5
    clock.advance(seconds=59)
    assert store.add("tally", 7, 60, clock.now()) == 12 and store.count("tally", 60, clock.now()) == 12
    clock.advance(seconds=1)  # the next minute
    assert store.count("tally", 60, clock.now()) == 0 and store.add("tally", 1, 60, clock.now()) == 1
    assert store.count("tally", 60, clock.now() - timedelta(seconds=1)) == 12  # the previous window kept
    assert store.count("other", 60, clock.now()) == 0
    assert [store.hit("limited", 2, 60, clock.now()) for _ in range(3)] == [True, True, False]


def test_a_windowed_count_can_be_kept_past_its_window(ctx, clock):
    """The flood watch's per-minute tallies are kept a day (``keep``), so ``idp shedding`` can look back."""
    from sqlalchemy import select

    from idp.throttling.models import RateCounter

    store, now = ctx.throttler.store, clock.now()
    store.add("kept", 3, 60, now, keep=3600)
    window_end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if hasattr(store, "client"):  # Redis: the key's time to live
        ttl = store.client.ttl(store._bucket("kept", 60, int((now - datetime(1970, 1, 1)).total_seconds())))
        assert 3600 < ttl <= 3600 + 61
    else:
        expires = db.session.execute(select(RateCounter.expires_at).where(RateCounter.key.startswith("kept:"))).scalar()
        assert expires == window_end + timedelta(hours=1)
