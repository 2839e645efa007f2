"""Exactly once per message, whatever the provider does (issue 23, item 1).

A provider that takes the request and then says nothing — it never answers, or answers after the client
gave up — may have sent the message. botocore's own retries would send it again (the customer gets two
SMS, the company pays for two); the courier makes one request per attempt and the outbox never resends a
message whose outcome is unknown: it goes dead with a readable reason, for an admin to requeue.

The provider here is a loopback endpoint (``tests/delivery/loopback.py``) that counts the requests it
received; boto3 reaches it through ``AWS_ENDPOINT_URL`` with a short read timeout given to the courier.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.delivery import DEAD, EMAIL, SMS, Delivery, Dispatcher, build_courier, enqueue
from idp.extensions import db
from tests.aws import use_aws_endpoint
from tests.delivery.loopback import SlowEndpoint

READ_TIMEOUT = 0.3  # seconds: the client gives up after this
MESSAGES = 2  # per test, each to its own recipient

RECIPIENTS = {EMAIL: ["one@example.com", "two@example.com"], SMS: ["+79161234567", "+79161234568"]}
SERVICE = {EMAIL: "ses", SMS: "sns"}


@pytest.fixture(params=["never", "too late"])
def endpoint(request, monkeypatch, tmp_path):
    """The provider's endpoint: silent for ever, or answering (success) after the client's read timeout."""
    server = SlowEndpoint(answer_after=None if request.param == "never" else READ_TIMEOUT + 0.3)
    use_aws_endpoint(monkeypatch, server.url, scratch=tmp_path)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")  # an operator's setting must not bring SDK retries back
    yield server
    server.close()


def queue(app, channel: str) -> list[int]:
    services = app.extensions["idp"]
    with app.app_context():
        rows = [enqueue(services, "temporary_password", channel=channel, recipient=recipient, account_id=None,
                        params={"password": "K5rduj6o", "login_url": services.settings.issuer + "/login"})
                for recipient in RECIPIENTS[channel]]
        db.session.commit()
        return [row.id for row in rows]


@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_a_provider_that_does_not_answer_in_time_gets_each_message_once(endpoint, make_app, settings, clock,
                                                                          channel):
    courier = build_courier(settings.replace(email_transport="ses", sms_transport="sns"),
                            connect_timeout=1, read_timeout=READ_TIMEOUT)
    app = make_app(courier=courier, email_transport="ses", sms_transport="sns", delivery_mode="worker")
    ids = queue(app, channel)

    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": MESSAGES}
        assert len(endpoint.requests(SERVICE[channel])) == MESSAGES  # one request per message, no SDK retry

        rows = db.session.execute(select(Delivery).order_by(Delivery.id)).scalars().all()
        assert [row.id for row in rows] == ids
        for row in rows:
            assert (row.status, row.attempts) == (DEAD, 1)
            assert row.last_error.startswith(f"outcome unknown: {SERVICE[channel].upper()} did not answer: "
                                             "ReadTimeoutError")
            assert "not resent automatically" in row.last_error and row.payload  # an admin may requeue it

        # However long one waits, the outbox does not try a maybe-sent message again by itself.
        clock.advance(hours=3)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
    assert len(endpoint.requests()) == MESSAGES
    assert {r.service for r in endpoint.requests()} == {SERVICE[channel]}


def test_an_admin_requeue_is_one_more_request_not_more(endpoint, make_app, settings, clock):
    courier = build_courier(settings.replace(sms_transport="sns"), connect_timeout=1,
                            read_timeout=READ_TIMEOUT)
    app = make_app(courier=courier, sms_transport="sns", delivery_mode="worker")
    first, _second = queue(app, SMS)
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        dispatcher.run_due()
        assert dispatcher.requeue(first)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}
    assert len(endpoint.requests("sns")) == MESSAGES + 1
