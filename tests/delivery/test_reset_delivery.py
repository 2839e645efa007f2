"""«Забыли пароль?» and a failing transport: the answer speaks of the channel, never of the login, and an
older temporary password's message never follows a newer one."""
from __future__ import annotations

from sqlalchemy import select

from idp.delivery import QUEUED, SENT, SUPERSEDED, Delivery, Dispatcher
from idp.extensions import db
from idp.passwords.reset import issue_pending, request_temporary_password
from tests.delivery.conftest import ScriptedTransport, add_account
from tests.http import PageClient, codes


def rows():
    return list(db.session.execute(select(Delivery).order_by(Delivery.id)).scalars())


def test_while_the_channel_has_a_backlog_known_and_unknown_logins_hear_the_same(outbox_app):
    transport = ScriptedTransport(failures=[True] * 10)
    app = outbox_app(transport)  # inline: the known login's send is tried in the request and fails
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        assert request_temporary_password("nobody@example.com", services).delivered  # no backlog yet
        assert request_temporary_password("client@example.com", services).delivered is False
        # Now the e-mail channel has a message waiting for a retry: everyone is told it may take a while.
        assert request_temporary_password("nobody@example.com", services).delivered is False
        assert request_temporary_password("other@example.com", services).delivered is False
        # The SMS channel is a different transport queue: nothing is waiting there.
        assert request_temporary_password("+79161234567", services).delivered


def test_pages_for_known_and_unknown_logins_match_during_an_outage(outbox_app, http_server):
    transport = ScriptedTransport(failures=[True] * 10)
    app = outbox_app(transport, reset_per_minute=100, reset_per_hour=100)
    with app.app_context():
        add_account(app)
    browser = PageClient(http_server.start(app).url)
    answers = []
    for login in ("client@example.com", "nobody@example.com", "client@example.com", "stranger@example.com"):
        browser.get("/login")
        page = browser.submit("/login", {"login": login, "password": "", "action": "forgot"})
        answers.append((page.status_code, codes(page.text)))
    assert answers == [(200, ["reset.delayed"])] * 4


def test_the_backlog_clears_when_the_transport_recovers(outbox_app, clock):
    transport = ScriptedTransport(failures=[True])
    app = outbox_app(transport, delivery_backoff=30)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        assert request_temporary_password("client@example.com", services).delivered is False
        clock.advance(seconds=30)
        assert Dispatcher(services).run_due().as_dict()["sent"] == 1
        assert request_temporary_password("nobody@example.com", services).delivered


def test_a_newer_request_withdraws_the_older_unsent_message(outbox_app, clock):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker", reset_per_minute=100, reset_per_hour=100)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        request_temporary_password("client@example.com", services)
        issue_pending(services)  # issued and queued, but not sent yet (the transport is down, say)
        clock.advance(minutes=5)
        request_temporary_password("client@example.com", services)
        issue_pending(services)
        older, newer = rows()
        assert (older.status, older.payload) == (SUPERSEDED, None)  # never sent, nothing left to read
        assert newer.status == QUEUED and newer.payload
        assert Dispatcher(services).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        assert [r.status for r in rows()] == [SUPERSEDED, SENT]
        [message] = transport.sent
        assert message.recipient == "client@example.com"
        # The one message that went out carries the password that works: the newer one.
        from idp.passwords.models import TemporaryPassword
        live = db.session.execute(select(TemporaryPassword).where(TemporaryPassword.revoked_at.is_(None))).scalars()
        [live] = list(live)
        password = message.text.split("Временный пароль - ", 1)[1].split()[0]
        assert services.hasher.verify(password, live.password_hash)


def test_a_dead_older_message_is_withdrawn_too_and_cannot_be_requeued(outbox_app, clock):
    transport = ScriptedTransport(failures=[True])
    app = outbox_app(transport, delivery_mode="worker", delivery_max_attempts=1, reset_per_minute=100,
                     reset_per_hour=100)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        request_temporary_password("client@example.com", services)
        issue_pending(services)
        dispatcher = Dispatcher(services)
        assert dispatcher.run_due().as_dict()["dead"] == 1
        clock.advance(minutes=2)
        request_temporary_password("client@example.com", services)
        issue_pending(services)
        older = rows()[0]
        assert older.status == SUPERSEDED and not dispatcher.requeue(older.id)


def test_requests_waiting_for_the_worker_send_only_the_newest_password(outbox_app, clock):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker", reset_per_minute=100, reset_per_hour=100)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        for _ in range(3):  # the worker was away: three presses of «Забыли пароль?» wait
            request_temporary_password("client@example.com", services)
            clock.advance(minutes=2)
        assert len(issue_pending(services)) == 3  # oldest first: each newer one withdraws the one before
        assert Dispatcher(services).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        assert [r.status for r in rows()] == [SUPERSEDED, SUPERSEDED, SENT]
        from idp.passwords.models import TemporaryPassword
        [live] = db.session.execute(select(TemporaryPassword).where(TemporaryPassword.revoked_at.is_(None))).scalars()
        password = transport.sent[0].text.split("Временный пароль - ", 1)[1].split()[0]
        assert services.hasher.verify(password, live.password_hash)
