"""The outbox and its dispatcher: sealed payloads, retries with backoff, dead letters, never twice."""
from __future__ import annotations

import json
import threading

from sqlalchemy import text

from idp.delivery import DEAD, QUEUED, SENT, Dispatcher
from idp.extensions import db
from idp.passwords.models import ResetRequest
from idp.passwords.reset import issue_pending, request_temporary_password
from tests.delivery.conftest import ScriptedTransport, add_account, only_row


def test_worker_mode_queues_sealed_and_sends_later(outbox_app):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        assert request_temporary_password("client@example.com", services).delivered
        # The request only wrote the (sealed) reset request: the account is looked up by the worker.
        assert db.session.execute(text("select count(*) from deliveries")).scalar_one() == 0
        request = db.session.execute(text("select payload from reset_requests")).scalar_one()
        assert "client" not in request
        [row] = issue_pending(services)
        assert row.status == QUEUED and transport.sent == []
        assert db.session.execute(text("select count(*) from reset_requests")).scalar_one() == 0
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
        issue_pending(services)
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
        issue_pending(app.extensions["idp"])
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}


def test_stale_claim_is_reaped_not_resent(outbox_app, clock):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        [row] = issue_pending(app.extensions["idp"])
        row.status, row.claimed_until = "sending", clock.now()
        db.session.commit()
        clock.advance(seconds=1)
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}
        assert transport.sent == []


def test_two_workers_at_once_send_each_message_once(outbox_app, tmp_path):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        for n in range(20):
            add_account(app, f"c{n}@example.com")
            request_temporary_password(f"c{n}@example.com", app.extensions["idp"])
    barrier = threading.Barrier(2)

    def work():  # one pass of ``idp deliveries run``: issue the pending requests, then dispatch
        with app.app_context():
            barrier.wait()
            issue_pending(app.extensions["idp"])
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


def test_the_worker_command_issues_pending_temporary_passwords_then_sends(outbox_app):
    """The dispatcher knows only the outbox: ``idp deliveries run`` turns waiting «Забыли пароль?»
    requests into temporary passwords and messages first, and the same pass sends them."""
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        request_temporary_password("nobody@example.com", app.extensions["idp"])
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
    from idp.cli import cli
    result = app.test_cli_runner().invoke(cli, ["deliveries", "run", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"sent": 1, "retrying": 0, "dead": 0}
    assert [m.recipient for m in transport.sent] == ["client@example.com"]
    assert "Временный пароль - " in transport.sent[0].text
    with app.app_context():
        assert db.session.execute(select_count(ResetRequest)).scalar_one() == 0


def test_worker_mode_the_request_does_the_same_for_known_and_unknown_logins(outbox_app):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        services = app.extensions["idp"]
        request_temporary_password("client@example.com", services)
        request_temporary_password("nobody@example.com", services)
        # Two indistinguishable rows: sealed, the same size, no account.
        payloads = list(db.session.execute(text("select payload from reset_requests order by id")).scalars())
        assert len(payloads) == 2 and len({len(p) for p in payloads}) == 1
        assert [row.recipient for row in issue_pending(services)] == ["client@example.com"]
        assert Dispatcher(services).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        assert [m.recipient for m in transport.sent] == ["client@example.com"]
        assert db.session.execute(select_count(ResetRequest)).scalar_one() == 0  # the unknown one left no trace


def test_a_reset_request_is_issued_once_by_two_workers(outbox_app):
    transport = ScriptedTransport()
    app = outbox_app(transport, delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
    barrier = threading.Barrier(2)

    def work():
        with app.app_context():
            barrier.wait()
            issue_pending(app.extensions["idp"])
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    with app.app_context():
        from idp.passwords.models import TemporaryPassword
        assert db.session.execute(select_count(TemporaryPassword)).scalar_one() == 1
        assert only_row().status == QUEUED


def test_an_unreadable_reset_request_is_dropped(outbox_app, clock):
    app = outbox_app(ScriptedTransport(), delivery_mode="worker")
    with app.app_context():
        db.session.add(ResetRequest(payload="not-sealed-by-this-key", created_at=clock.now()))
        db.session.commit()
        assert issue_pending(app.extensions["idp"]) == []
        assert db.session.execute(select_count(ResetRequest)).scalar_one() == 0


def select_count(model):
    from sqlalchemy import func, select
    return select(func.count()).select_from(model)
