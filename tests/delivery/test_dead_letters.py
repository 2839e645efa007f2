"""Dead letters in the audit trail (``delivery.dead``, ``delivery.requeued``) and ``idp deliveries requeue``."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.audit import search
from idp.delivery import DEAD, QUEUED, SENT, Courier, Delivery, Dispatcher
from idp.extensions import db
from idp.passwords.reset import issue_pending, request_temporary_password
from tests.delivery.conftest import ScriptedTransport, add_account, only_row


@pytest.fixture
def transport():
    return ScriptedTransport(failures=[True])


@pytest.fixture
def app(make_app, transport):
    return make_app(courier=Courier({"email": transport, "sms": transport}), delivery_mode="worker",
                    delivery_max_attempts=1)


def dead_letter(app) -> Delivery:
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        issue_pending(app.extensions["idp"])  # worker mode: the worker issues it, then the dispatcher sends
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["dead"] == 1
        row = only_row()
        db.session.expunge(row)
        return row


def test_a_dead_letter_is_recorded_with_its_channel_and_purpose(app, transport):
    row = dead_letter(app)
    with app.app_context():
        [event] = search(event="delivery.dead")
        assert event.account_id == row.account_id
        assert event.details == {"delivery_id": row.id, "channel": "email", "purpose": "temporary_password"}
        assert "client@example.com" not in json.dumps(event.details)


def test_a_reaped_claim_is_recorded_as_dead(app, clock):
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        [row] = issue_pending(app.extensions["idp"])
        row.status, row.claimed_until = "sending", clock.now()
        db.session.commit()
        clock.advance(seconds=1)
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["dead"] == 1
        [event] = search(event="delivery.dead")
        assert event.details == {"delivery_id": row.id, "channel": "email", "purpose": "temporary_password"}


def test_sent_and_retried_messages_are_not_dead_letters(make_app, clock):
    transport = ScriptedTransport(failures=[True, False])
    app = make_app(courier=Courier({"email": transport, "sms": transport}), delivery_mode="worker",
                   delivery_backoff=1)
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
        issue_pending(app.extensions["idp"])
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict()["retrying"] == 1
        clock.advance(seconds=1)
        assert dispatcher.run_due().as_dict()["sent"] == 1
        assert search(event="delivery.*") == []


def test_the_metrics_count_the_events(app, client):
    from tests.ops.test_ops import metric

    before = metric(client, "idp_events_total", event="delivery.dead")
    dead_letter(app)
    assert metric(client, "idp_events_total", event="delivery.dead") == before + 1


# -- idp deliveries requeue ---------------------------------------------------------------------------------


def test_cli_requeue_then_the_dispatcher_sends_it(app, run_cli, transport):
    row = dead_letter(app)
    result = run_cli("deliveries", "requeue", str(row.id), "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["status"], shown["attempts"], shown["recipient"]) == (QUEUED, 0, "c***@example.com")
    assert "payload" not in shown
    with app.app_context():
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["sent"] == 1
        assert db.session.execute(select(Delivery.status)).scalar_one() == SENT
        [requeued] = search(event="delivery.requeued")
        assert requeued.details == {"delivery_id": row.id, "channel": "email", "purpose": "temporary_password",
                                    "via": "cli"}
        assert [e.details for e in search(event="admin.delivery_requeue")] == [{"delivery_id": row.id,
                                                                                  "via": "cli"}]
    assert "Временный пароль - " in transport.sent[0].text


@pytest.mark.parametrize("delivery_id, code", [
    ("999", "delivery.not_found"), ("abc", "delivery.not_found"), ("1.5", "delivery.not_found"),
    ("99999999999999999999", "delivery.not_found"),
])
def test_cli_requeue_errors_are_json_with_json(app, run_cli, delivery_id, code):
    result = run_cli("deliveries", "requeue", delivery_id, "--json")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == code
    human = run_cli("deliveries", "requeue", delivery_id)
    assert human.exit_code == 1 and human.output.startswith(f"Error: {code}")


def test_cli_requeue_of_a_message_that_is_not_dead(app, run_cli):
    row = dead_letter(app)
    assert run_cli("deliveries", "requeue", str(row.id)).exit_code == 0
    result = run_cli("deliveries", "requeue", str(row.id), "--json")
    assert result.exit_code == 1
    error = json.loads(result.output)
    assert error["error"] == "delivery.not_dead" and "queued" in error["error_description"]
    with app.app_context():
        assert len(search(event="delivery.requeued")) == 1
        assert db.session.execute(select(Delivery.status)).scalar_one() == QUEUED


def test_cli_lists_dead_letters_as_failed(app, run_cli):
    row = dead_letter(app)
    [listed] = json.loads(run_cli("deliveries", "list", "--failed", "--json").output)
    assert (listed["id"], listed["status"], listed["requeueable"]) == (row.id, DEAD, True)


def test_a_dead_temporary_password_cannot_be_requeued_after_its_lifetime_and_purge_erases_it(app, transport, clock,
                                                                                              run_cli):
    row = dead_letter(app)  # temporary password lifetime: 24 h
    transport.failures.append(True)
    with app.app_context():
        clock.advance(hours=24, seconds=-1)
        assert Dispatcher(app.extensions["idp"]).requeue(row.id)  # still within: an admin may send it again
        Dispatcher(app.extensions["idp"]).run_due()  # the transport fails once more: dead again, sealed still
        assert only_row().status == DEAD and only_row().payload
        clock.advance(seconds=1)
        assert not Dispatcher(app.extensions["idp"]).requeue(row.id)  # the password in it no longer works
    result = run_cli("deliveries", "requeue", str(row.id), "--json")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "delivery.not_dead"
    removed = json.loads(run_cli("purge", "--json").output)
    assert removed["expired_messages"] == 1
    with app.app_context():
        withdrawn = only_row()
        assert (withdrawn.status, withdrawn.payload) == ("superseded", None)
        assert withdrawn.last_error == "withdrawn: the temporary password in it has expired"


def test_purge_drops_reset_requests_no_worker_took(make_app, clock, run_cli):
    app = make_app(delivery_mode="worker")
    with app.app_context():
        add_account(app)
        request_temporary_password("client@example.com", app.extensions["idp"])
    assert json.loads(run_cli("purge", "--json").output)["reset_requests"] == 0
    clock.advance(hours=24, seconds=1)
    assert json.loads(run_cli("purge", "--json").output)["reset_requests"] == 1
    with app.app_context():
        assert issue_pending(app.extensions["idp"]) == []
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
