"""The outbox and its dispatcher: sealed payloads, retries with backoff, dead letters, never twice."""
from __future__ import annotations

import json
import threading

from sqlalchemy import text

from idp.delivery import DEAD, QUEUED, SENT, Dispatcher
from idp.extensions import db
from idp.passwords.reset import request_temporary_password
from tests.delivery.conftest import ScriptedTransport, add_account, only_row


def test_worker_mode_queues_sealed_and_sends_later(outbox_app):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        assert request_temporary_password("client@example.com", services).delivered
        row = only_row()
        assert row.status == QUEUED and transport.sent == []
        raw = db.session.execute(text("select payload from deliveries")).scalar_one()
        assert raw and "password" not in raw  # sealed, not JSON
        report = Dispatcher(services).run_due()
        assert report.as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        db.session.refresh(row)
        assert row.status == SENT and row.payload is None and row.provider_message_id == "id-1"
        assert "Временный пароль - " in transport.sent[0].text


def test_inline_failure_keeps_the_message_queued_with_backoff(outbox_app, clock):
    transport = ScriptedTransport(failures=[True, True, False])
    app = outbox_app(transport, delivery_backoff=30)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        result = request_temporary_password("client@example.com", services)
        assert result.delivered is False
        row = only_row()
        assert row.status == QUEUED and row.attempts == 1 and row.last_error == "scripted refusal"
        assert (row.next_attempt_at - clock.now()).total_seconds() == 30
        dispatcher = Dispatcher(services)
        clock.advance(seconds=29)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
        clock.advance(seconds=1)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 1, "dead": 0}
        db.session.refresh(row)
        assert (row.next_attempt_at - clock.now()).total_seconds() == 60  # doubled
        clock.advance(seconds=60)
        assert dispatcher.run_due().as_dict()["sent"] == 1
        assert len(transport.sent) == 1


def test_dead_letter_after_the_last_attempt_and_requeue(outbox_app, clock, run_cli):
    transport = ScriptedTransport(failures=[True] * 3)
    app = outbox_app(transport, delivery_mode="worker", delivery_max_attempts=3, delivery_backoff=1)
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        request_temporary_password("client@example.com", services)
        dispatcher = Dispatcher(services)
        for _ in range(3):
            dispatcher.run_due()
            clock.advance(hours=1)
        row = only_row()
        assert row.status == DEAD and row.attempts == 3 and row.payload
        assert dispatcher.requeue(row.id)
        assert dispatcher.run_due().as_dict()["sent"] == 1


def test_maybe_sent_is_never_retried(outbox_app, clock):
    transport = ScriptedTransport(failures=[True], maybe_sent=True)
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}


def test_stale_claim_is_reaped_not_resent(outbox_app, clock):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        row = only_row()
        row.status, row.claimed_until = "sending", clock.now()
        db.session.commit()
        clock.advance(seconds=1)
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}
        assert transport.sent == []


def test_two_dispatchers_at_once_send_each_message_once(outbox_app, tmp_path):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        for n in range(20):
            add_account(app, f"c{n}@example.com")
            request_temporary_password(f"c{n}@example.com", app.extensions["idp"])
    barrier = threading.Barrier(2)

    def work():
        with app.app_context():
            barrier.wait()
            Dispatcher(app.extensions["idp"]).run_due()
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    recipients = sorted(m.recipient for m in transport.sent)
    assert recipients == sorted(f"c{n}@example.com" for n in range(20))


def test_cli_lists_failed_without_payload(outbox_app, run_cli, clock):
    transport = ScriptedTransport(failures=[True])
    app = outbox_app(transport)
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
    from idp.cli import cli
    result = app.test_cli_runner().invoke(cli, ["deliveries", "list", "--failed", "--json"])
    rows = json.loads(result.output)
    assert len(rows) == 1 and rows[0]["status"] == "queued" and rows[0]["last_error"] == "scripted refusal"
    assert "payload" not in rows[0] and rows[0]["recipient"] == "c***@example.com"
    result = app.test_cli_runner().invoke(cli, ["deliveries", "run", "--once", "--json"])
    assert json.loads(result.output) == {"sent": 0, "retrying": 0, "dead": 0}  # not due yet
    clock.advance(minutes=1)
    result = app.test_cli_runner().invoke(cli, ["deliveries", "run", "--once", "--json"])
    assert json.loads(result.output) == {"sent": 1, "retrying": 0, "dead": 0}
