"""Classified provider errors (issue 23, item 2): throttling waits, permanent refusals go dead at once with a
readable reason, anything else is retried with backoff as before.

Each error is a documented AWS error response injected by a loopback relay in front of moto
(``tests/delivery/loopback.py``): SES API v2 answers in REST-JSON (status, ``x-amzn-ErrorType``, a JSON
body), SNS in the query protocol's XML. Real boto3 parses them; what the relay does not fail reaches moto.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from idp.delivery import DEAD, EMAIL, QUEUED, SENT, SMS, Delivery, Dispatcher, enqueue
from idp.extensions import db
from tests.delivery.loopback import ErrorRelay, ses_error, sns_error

pytestmark = pytest.mark.aws

RECIPIENT = {EMAIL: "client@example.com", SMS: "+79161234567"}
BACKOFF = 30  # IDP_DELIVERY_BACKOFF's default, seconds


@pytest.fixture
def relay(moto_server, monkeypatch):
    relay = ErrorRelay(moto_server.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)
    yield relay
    relay.close()


@pytest.fixture
def app(make_app, relay):
    return make_app(email_transport="ses", sms_transport="sns", delivery_mode="worker",
                    delivery_max_attempts=2)


def queue(app, channel: str, recipients: list[str] | None = None) -> list[int]:
    services = app.extensions["idp"]
    with app.app_context():
        rows = [enqueue(services, "temporary_password", channel=channel, recipient=recipient, account_id=None,
                        params={"password": "K5rduj6o", "login_url": services.settings.issuer + "/login"})
                for recipient in recipients or [RECIPIENT[channel]]]
        db.session.commit()
        return [row.id for row in rows]


def row(delivery_id: int) -> Delivery:
    db.session.expire_all()
    return db.session.get(Delivery, delivery_id)


def received(moto_server, channel: str) -> list:
    return moto_server.emails() if channel == EMAIL else moto_server.sms()


THROTTLING = [
    pytest.param(EMAIL, ses_error("TooManyRequestsException", 429, "Too Many Requests"), id="ses-429"),
    pytest.param(EMAIL, ses_error("LimitExceededException", 400, "Daily message quota exceeded"),
                 id="ses-quota"),
    pytest.param(SMS, sns_error("Throttling", 400, "Rate exceeded"), id="sns-throttling"),
    pytest.param(SMS, sns_error("Throttled", 429, "Rate exceeded"), id="sns-throttled"),
]


@pytest.mark.parametrize("channel, error", THROTTLING)
def test_throttling_waits_with_backoff_and_burns_no_attempt(app, relay, moto_server, clock, channel, error):
    """Three throttles in a row with ``delivery_max_attempts=2``: still queued, each wait twice the last, the
    attempts untouched; then the provider takes it, once."""
    [delivery_id] = queue(app, channel)
    relay.fail(error, error, error)
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        waits = []
        for _ in range(3):
            started = clock.now()
            assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 1, "dead": 0}
            throttled = row(delivery_id)
            assert (throttled.status, throttled.attempts) == (QUEUED, 0)
            assert "throttled: retried later, not counted as an attempt" in throttled.last_error
            waits.append(throttled.next_attempt_at - started)
            clock.advance(seconds=waits[-1].total_seconds() - 1)
            assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}  # not due yet
            clock.advance(seconds=1)
        assert waits == [timedelta(seconds=n * BACKOFF) for n in (1, 2, 4)]
        assert dispatcher.run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        sent = row(delivery_id)
        assert sent.status == SENT and sent.last_error is None
    assert len(relay.requests()) == 4 and len(received(moto_server, channel)) == 1


def test_a_throttled_channel_holds_its_other_messages_without_asking_again(app, relay, moto_server, clock):
    ids = queue(app, SMS, ["+79161234567", "+79161234568", "+79161234569"])
    [email_id] = queue(app, EMAIL)
    relay.fail(sns_error("Throttling", 400, "Rate exceeded"))
    with app.app_context():
        report = Dispatcher(app.extensions["idp"]).run_due()
        assert report.as_dict() == {"sent": 1, "retrying": 3, "dead": 0}
        held = [row(i) for i in ids]
        assert {(r.status, r.attempts, r.next_attempt_at) for r in held} == {
            (QUEUED, 0, clock.now() + timedelta(seconds=BACKOFF))}
        assert row(email_id).status == SENT  # another channel, another story
    assert [r.service for r in relay.requests()].count("sns") == 1  # one Publish, answered "slow down"


PERMANENT = [
    pytest.param(EMAIL, ses_error("MessageRejected", 400, "Email address is not verified."),
                 "SES refused the message: MessageRejected (SES refuses this message", id="ses-rejected"),
    pytest.param(EMAIL, ses_error("MailFromDomainNotVerifiedException", 400, "MAIL FROM domain not verified"),
                 "SES refused the message: MailFromDomainNotVerifiedException (the sender's MAIL FROM "
                 "domain is not verified in SES)", id="ses-mail-from"),
    pytest.param(EMAIL, ses_error("SendingPausedException", 400, "Sending is paused for this account"),
                 "SES refused the message: SendingPausedException (sending is paused", id="ses-paused"),
    pytest.param(EMAIL, ses_error("AccountSuspendedException", 400, "Account suspended"),
                 "SES refused the message: AccountSuspendedException (the SES account is suspended",
                 id="ses-suspended"),
    pytest.param(SMS, sns_error("InvalidParameter", 400, "Invalid parameter: PhoneNumber Reason: "
                                                         "+79161234567 is not valid to publish to"),
                 "SNS refused the message: InvalidParameter (SNS does not take this phone number",
                 id="sns-invalid-number"),
    pytest.param(SMS, sns_error("ParameterValueInvalid", 400, "Invalid parameter value"),
                 "SNS refused the message: ParameterValueInvalid (SNS finds a parameter value invalid)",
                 id="sns-invalid-value"),
]


@pytest.mark.parametrize("channel, error, reason", PERMANENT)
def test_a_permanent_refusal_goes_dead_at_once_with_a_readable_reason(app, relay, moto_server, clock, run_cli,
                                                                       channel, error, reason):
    [delivery_id] = queue(app, channel)
    relay.fail(error)
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}
        dead = row(delivery_id)
        assert (dead.status, dead.attempts) == (DEAD, 1) and dead.payload
        assert dead.last_error.startswith(reason)
        assert dead.last_error.endswith("refused for good, not retried: fix the cause, then requeue")
        assert RECIPIENT[channel] not in dead.last_error  # the provider's own text (naming it) is left out
        clock.advance(hours=2)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
    assert len(relay.requests()) == 1

    listed = run_cli("deliveries", "list", "--failed", "--json")
    assert listed.exit_code == 0, listed.output
    [shown] = json.loads(listed.output)
    assert shown["status"] == "dead" and shown["last_error"].startswith(reason)

    with app.app_context():  # the cause fixed, an admin requeues: the provider takes it once
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.requeue(delivery_id)
        assert dispatcher.run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
    assert len(received(moto_server, channel)) == 1


UNKNOWN = [
    pytest.param(EMAIL, ses_error("InternalFailure", 500, "Internal failure"),
                 "SES refused the message: InternalFailure", id="ses-500"),
    pytest.param(EMAIL, ses_error("SomethingNew", 400, "a code nobody knows yet"),
                 "SES refused the message: SomethingNew", id="ses-unknown"),
    pytest.param(SMS, sns_error("InternalError", 500, "Internal error", kind="Receiver"),
                 "SNS refused the message: InternalError", id="sns-500"),
    pytest.param(SMS, sns_error("AuthorizationError", 403, "not authorized to perform SNS:Publish"),
                 "SNS refused the message: AuthorizationError", id="sns-authorization"),
]


@pytest.mark.parametrize("channel, error, last_error", UNKNOWN)
def test_other_errors_are_retried_with_backoff_and_count_unlike_throttling(app, relay, moto_server, clock,
                                                                           channel, error, last_error):
    """A throttle, then the same unknown error twice, with ``delivery_max_attempts=2``: the throttle costs no
    attempt, each unknown error one, and the second makes it dead — as before issue 23."""
    throttle = (ses_error("TooManyRequestsException", 429) if channel == EMAIL
                else sns_error("Throttling", 400))
    [delivery_id] = queue(app, channel)
    relay.fail(throttle, error, error)
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 1, "dead": 0}
        assert row(delivery_id).attempts == 0
        clock.advance(seconds=BACKOFF)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 1, "dead": 0}
        retrying = row(delivery_id)
        assert (retrying.status, retrying.attempts, retrying.last_error) == (QUEUED, 1, last_error)
        assert retrying.next_attempt_at == clock.now() + timedelta(seconds=BACKOFF)
        clock.advance(seconds=BACKOFF)
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 1}  # max attempts: 2
        dead = row(delivery_id)
        assert (dead.status, dead.attempts, dead.last_error) == (DEAD, 2, last_error)
    assert len(relay.requests()) == 3 and received(moto_server, channel) == []
