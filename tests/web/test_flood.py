"""Sign-in under a credential-stuffing flood, through the sign-in page: what a shed attempt is told, and who
still gets through — the device cookie's priority lane and the retry ticket's lane — and when they do not.

The flood is stood in for by holding the normal lane's only slot with no room to queue
(``signin_queue_length=0``): every attempt that lands in that lane is shed at once. The lanes' timing is
tested in tests/passwords/test_admission.py; the load itself in ``bench/run.py --flood``.
"""
import re
import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.passwords.admission import NORMAL, PRIORITY, RETRY, Admission, AdmissionPolicy, LanePolicy
from idp.passwords.devices import DEVICE_MAX_AGE, TICKET_MAX_AGE
from idp.support import Operator, sign_out
from idp.throttling.models import RateCounter, Throttle
from tests.http import codes
from tests.passwords.test_admission import wait_until

PASSWORD = "Polis2026"
EMAIL = "client@example.com"
PHONE = "+79161234567"
COOKIE = "idp_device"


@pytest.fixture
def app(make_app):
    return make_app(signin_queue_length=0)


def form_token(client):
    page = client.get("/login?prompt=login")  # the form even for a browser signed in already
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def post(client, login, password=PASSWORD, **extra):
    return client.post("/login", data={"csrf_token": form_token(client), "login": login, "password": password,
                                       "action": "signin", **extra})


def hidden(page, name):
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]+)">', page.get_data(as_text=True))
    return found and found.group(1)


def signed_in(page):
    return page.status_code == 302 and page.headers["Location"] == "/account"


def shed(page):
    return page.status_code == 429 and codes(page.get_data(as_text=True)) == ["signin.busy"]


@contextmanager
def flood(app):
    """The normal lane busy: its slot held, no room in its queue."""
    with app.extensions["idp"].admission.admit(NORMAL) as admitted:
        assert admitted
        yield


def device_cookie(client):
    cookie = client.get_cookie(COOKIE)
    return cookie and cookie.value


def events(app):
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.event).order_by(AuditEvent.id)).scalars())


def rows(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar()


def test_a_successful_sign_in_leaves_a_long_lived_http_only_device_cookie(app, client, make_account):
    make_account(email=EMAIL, password=PASSWORD)
    page = post(client, EMAIL)
    assert signed_in(page)
    header = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")[1:]}
    assert "httponly" in attributes and attributes["samesite"] == "SameSite=Lax" and attributes["path"] == "Path=/"
    assert attributes["max-age"] == f"Max-Age={DEVICE_MAX_AGE}"
    assert EMAIL not in header and "client" not in header  # the login is only an HMAC digest inside


def test_a_shed_attempt_is_the_same_answer_for_known_and_unknown_logins_and_writes_nothing(app, client,
                                                                                          make_account):
    """429 with Retry-After, the page asking to try again in a few seconds with the login kept, and a retry
    ticket — byte for byte the same whether the login exists (right or wrong password) or not; no audit row and
    no throttle counter, so a flood leaves no trace per attempt."""
    def attempt(password):
        page = post(client, EMAIL, password)
        assert shed(page), page.status_code
        body = re.sub(r'name="csrf_token" value="[^"]+"', "", page.get_data(as_text=True))
        return page.headers["Retry-After"], body

    audit, throttles = len(events(app)), rows(app, Throttle) + rows(app, RateCounter)
    with flood(app):
        unknown = attempt(PASSWORD)
        make_account(email=EMAIL, password=PASSWORD)
        known_wrong, known_right = attempt("Wrong2026"), attempt(PASSWORD)
    assert unknown == known_wrong == known_right
    retry_after, body = unknown
    assert retry_after == "3" and "Подождите 3 с" in body and f'value="{EMAIL}"' in body and 'name="ticket"' in body
    # The episode (not each refusal) is recorded by the flood watch's thread: its claim in the shared throttle
    # store, its audit row, and its tally of the normal lane's refusals for the minute. Nothing else was written
    # for the three refusals.
    wait_until(lambda: "signin.shedding_started" in events(app)
               and rows(app, Throttle) + rows(app, RateCounter) == throttles + 2)
    assert [event for event in events(app)[audit:] if event.startswith("signin.")] == ["signin.shedding_started"]
    assert signed_in(post(client, EMAIL))  # the flood over, the same customer is in


def test_the_device_cookie_goes_first_for_its_own_login_only(app, client, make_account):
    make_account(email=EMAIL, phone=PHONE, password=PASSWORD)
    make_account(email="neighbour@example.com", password=PASSWORD)
    assert signed_in(post(client, EMAIL))
    with flood(app):
        assert signed_in(post(client, EMAIL))  # the priority lane, whatever fills the normal one
        assert signed_in(post(client, " Client@Example.com "))  # the same login, however typed
        assert shed(post(client, "neighbour@example.com"))  # another login on the same browser
        assert shed(post(client, "8 916 123-45-67"))  # the account's other login was never used here


def test_one_browser_remembers_several_logins(app, client, make_account):
    make_account(email=EMAIL, password=PASSWORD)
    make_account(email="spouse@example.com", password=PASSWORD)
    assert signed_in(post(client, EMAIL)) and signed_in(post(client, "spouse@example.com"))
    with flood(app):
        assert signed_in(post(client, EMAIL)) and signed_in(post(client, "spouse@example.com"))


def test_a_device_cookie_is_no_good_after_sign_out_everywhere(app, client, make_account, services):
    account = make_account(email=EMAIL, password=PASSWORD)
    assert signed_in(post(client, EMAIL))
    stolen = device_cookie(client)
    with app.app_context():
        sign_out(services, Operator(login="agent@example.com", via="web"), db.session.get(type(account), account.id),
                 reason="lost phone")
    with flood(app):
        assert shed(post(client, EMAIL))
    assert signed_in(post(client, EMAIL))  # signing in again makes it good again…
    with flood(app):
        assert signed_in(post(client, EMAIL))
        other = client.application.test_client()
        other.set_cookie(COOKIE, stolen)
        assert shed(post(other, EMAIL))  # …but not the cookie from before


def test_a_device_cookie_is_no_good_after_a_password_change(app, client, make_account, mailbox):
    make_account(email=EMAIL, password=PASSWORD)
    assert signed_in(post(client, EMAIL))
    post(client, EMAIL, action="forgot")
    temporary = mailbox.temporary_password(EMAIL)
    assert post(client, EMAIL, temporary).headers["Location"] == "/password/change"
    page = client.get("/password/change")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    page = client.post("/password/change", data={"csrf_token": token, "temporary": temporary, "new": "Novyi2027",
                                                 "confirm": "Novyi2027"})
    assert page.status_code == 302
    with flood(app):
        assert shed(post(client, EMAIL, "Novyi2027"))


def test_a_device_cookie_is_bound_to_the_secret_key(make_app, make_account, settings):
    first = make_app(signin_queue_length=0)
    make_account(email=EMAIL, password=PASSWORD)
    browser = first.test_client()
    assert signed_in(post(browser, EMAIL))
    cookie = device_cookie(browser)
    new_key = "another-secret-key-" + "y" * 32

    def under(app):
        client = app.test_client()
        client.set_cookie(COOKIE, cookie)
        with flood(app):
            return post(client, EMAIL)

    assert shed(under(make_app(signin_queue_length=0, secret_key=new_key)))  # a key it was not signed with
    rotating = make_app(signin_queue_length=0, secret_key=new_key, previous_secret_keys=settings.secret_key)
    assert signed_in(under(rotating))  # a rotation keeps it while the old key is still accepted
    tampered = make_app(signin_queue_length=0)
    client = tampered.test_client()
    client.set_cookie(COOKIE, cookie[:-3] + ("AAA" if not cookie.endswith("AAA") else "BBB"))
    with flood(tampered):
        assert shed(post(client, EMAIL))


def test_the_retry_ticket_lets_the_next_try_of_that_login_from_that_address_through(app, client, make_account,
                                                                                   clock):
    make_account(email=EMAIL, password=PASSWORD)
    with flood(app):
        first = post(client, EMAIL)
        assert shed(first)
        ticket = hidden(first, "ticket")
        assert signed_in(post(client, EMAIL, ticket=ticket))  # a new device, in on its second try
        newcomer = app.test_client()
        assert shed(post(newcomer, "other@example.com", ticket=ticket))  # bound to its login
        elsewhere = app.test_client()
        elsewhere.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        assert shed(post(elsewhere, EMAIL, ticket=ticket))  # and to its address
        assert shed(post(app.test_client(), EMAIL, ticket=ticket + "x"))  # forged
        clock.advance(seconds=TICKET_MAX_AGE + 1)
        assert shed(post(app.test_client(), EMAIL, ticket=ticket))  # and good for ten minutes


@pytest.mark.parametrize("typed", ["", "x" * 2000, "not-a-login"])
def test_odd_cookies_and_tickets_are_simply_the_normal_lane(app, client, make_account, typed):
    make_account(email=EMAIL, password=PASSWORD)
    client.set_cookie(COOKIE, typed or "garbage")
    with flood(app):
        assert shed(post(client, EMAIL, ticket=typed))
    assert signed_in(post(client, EMAIL, ticket=typed))


def test_an_attempt_waiting_for_its_lane_holds_no_database_connection(app, client, make_account):
    """The priority lane's check of the device cookie reads the account; that read is over before the attempt
    waits, so attempts queued for a password check never pin the database's connections."""
    make_account(email=EMAIL, password=PASSWORD)
    assert signed_in(post(client, EMAIL))
    token = form_token(client)
    admission, outcome = app.extensions["idp"].admission, []
    with admission.admit(PRIORITY) as admitted:
        assert admitted
        waiting = threading.Thread(target=lambda: outcome.append(client.post("/login", data={
            "csrf_token": token, "login": EMAIL, "password": PASSWORD, "action": "signin"})))
        waiting.start()
        wait_until(lambda: admission.state()[PRIORITY] == (1, 1))
        with app.app_context():
            assert db.engine.pool.checkedout() == 0
    waiting.join(10)
    assert signed_in(outcome[0])


def test_a_ticket_shed_again_comes_back_unchanged_and_ends_ten_minutes_after_the_first_refusal(app, client,
                                                                                                 make_account,
                                                                                                 services, clock):
    """Resubmitting a ticket never renews it: a client that keeps coming back with it is in the normal lane
    again ten minutes after its first refusal."""
    no_room = LanePolicy(slots=1, queue=0)
    services.admission = Admission(AdmissionPolicy(normal=no_room, retry=no_room, priority=no_room),
                                   services.admission.watch)
    make_account(email=EMAIL, password=PASSWORD)
    with flood(app), services.admission.admit(RETRY) as admitted:  # the retry lane full too
        assert admitted
        first = post(client, EMAIL)
        ticket = hidden(first, "ticket")
        clock.advance(seconds=TICKET_MAX_AGE - 5)
        again = post(client, EMAIL, ticket=ticket)
        assert shed(again) and hidden(again, "ticket") == ticket
    clock.advance(seconds=10)
    with flood(app):
        assert shed(post(client, EMAIL, ticket=ticket))  # expired: the normal lane, which is full
