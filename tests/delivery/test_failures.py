"""When SES or SNS cannot take a message: the customer is told, nothing leaks, the message waits its retry.

The provider queues each message in the outbox in the same transaction as the temporary password, and
in ``inline`` mode tries to send it at once. If that try fails, the message stays queued for a retry
with backoff, the page says the password is on its way but delayed (``reset.delayed``), and the log
says what failed without the password or the full address. Failures here are real: a closed loopback
port, or moto in server mode refusing an unverified sender; nothing in boto3 or the transports is patched.
"""
from __future__ import annotations

import logging
import socket
import time

import boto3
import pytest
from botocore.config import Config
from sqlalchemy import select

from idp.delivery import (DEAD, EMAIL, QUEUED, SENT, SMS, Delivery, DeliveryError, Dispatcher, OutgoingMessage,
                          build_courier)
from idp.delivery.courier import AWS_CONNECT_TIMEOUT, AWS_MAX_ATTEMPTS, AWS_READ_TIMEOUT
from idp.delivery.transports import SesTransport, SnsTransport
from idp.extensions import db
from idp.passwords import temporary
from idp.passwords.models import TemporaryPassword
from idp.settings import SettingsError
from tests.aws import REGION
from tests.http import PageClient, codes

SUPPORT_PHONES = ("8 (499) 215 6424", "8-800-775 64 24")
ACCOUNT = {"email": "client@example.com", "phone": "+79161234567"}
PERMANENT = "Polis2025"


@pytest.fixture
def issued(monkeypatch) -> list[str]:
    """The temporary passwords drawn, in order (the generator is wrapped, not changed)."""
    drawn: list[str] = []
    generate = temporary.generate

    def spy():
        drawn.append(generate())
        return drawn[-1]

    monkeypatch.setattr(temporary, "generate", spy)
    return drawn


@pytest.fixture
def capture(caplog):
    """Everything logged at INFO and above, and the provider's own DEBUG records too."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="idp")
    return caplog


def forgot(live_server, login: str):
    browser = PageClient(live_server.url)
    browser.get("/login")
    started = time.monotonic()
    page = browser.submit("/login", {"login": login, "password": "", "action": "forgot"})
    return browser, page, time.monotonic() - started


def assert_told_and_nothing_leaked(page, capture, *, password: str, recipient: str, masked: str, error: str):
    assert page.status_code == 200
    assert codes(page.text) == ["reset.delayed"]
    for phone in SUPPORT_PHONES:
        assert phone in page.text
    assert password not in page.text

    failures = [r for r in capture.records if r.levelno >= logging.ERROR]
    assert failures, "the failed send was not logged"
    line = failures[0].getMessage()
    assert error in line and masked in line
    assert password not in line and recipient not in line
    everything = "\n".join(r.getMessage() for r in capture.records)
    assert password not in everything  # not at any level we capture, from any logger
    assert recipient not in "\n".join(r.getMessage() for r in capture.records if r.name.startswith("idp"))


def assert_queued_for_retry(app, account_id: int, *, channel: str, error: str):
    with app.app_context():
        row = db.session.execute(select(Delivery)).scalar_one()
        assert (row.account_id, row.channel, row.template) == (account_id, channel, "temporary_password")
        assert (row.status, row.attempts, row.last_error) == (QUEUED, 1, error)
        assert row.provider_message_id is None and row.sent_at is None
        assert row.next_attempt_at > row.created_at  # a retry with backoff, not at once
        return row


def assert_permanent_password_still_works(browser, login: str):
    page = browser.submit("/login", {"login": login, "password": PERMANENT, "action": "signin"})
    assert page.url.endswith("/account") and "Личный кабинет" in page.text


# --- the app, on a dead endpoint unless a test says otherwise ---------------------------------------------

@pytest.fixture
def aws():
    """The fixture that points boto3 somewhere; tests parametrize it (``"moto_server"``)."""
    return "aws_unreachable"


@pytest.fixture
def app_overrides():
    return {}


@pytest.fixture
def app(request, make_app, aws, app_overrides):
    """The provider on SES and SNS, built after ``aws`` set boto3's variables."""
    request.getfixturevalue(aws)
    return make_app(email_transport="ses", sms_transport="sns", **app_overrides)


@pytest.mark.parametrize("login, recipient, masked, channel, error", [
    ("client@example.com", "client@example.com", "c***@example.com", EMAIL,
     "SES unreachable: EndpointConnectionError"),
    ("8 (916) 123 45 67", "+79161234567", "+791***67", SMS, "SNS unreachable: EndpointConnectionError"),
])
def test_unreachable_endpoint_fails_fast_tells_the_customer_and_leaks_nothing(
        app, live_server, make_account, issued, capture, login, recipient, masked, channel, error):
    account = make_account(password=PERMANENT, **ACCOUNT)

    browser, page, elapsed = forgot(live_server, login)

    assert elapsed < 5, f"a dead endpoint kept the customer waiting {elapsed:.1f} s"
    [password] = issued
    assert_told_and_nothing_leaked(page, capture, password=password, recipient=recipient, masked=masked,
                                   error=error)
    assert_queued_for_retry(app, account.id, channel=channel, error=error)
    with app.app_context():  # the temporary password waits with its message; the permanent one is untouched
        [pending] = db.session.execute(select(TemporaryPassword)).scalars().all()
        assert pending.account_id == account.id and pending.used_at is None
    assert_permanent_password_still_works(browser, login)


# --- SES answering, and refusing ------------------------------------------------------------------------

@pytest.mark.aws
@pytest.mark.parametrize("aws, app_overrides", [
    ("moto_server", {"email_from": "noreply@unverified.example"}),  # a sender SES has not verified
])
def test_ses_refusing_an_unverified_sender_goes_dead_at_once_then_an_admin_requeues_it(
        moto_server, app, live_server, make_account, issued, capture, clock):
    """``MessageRejected`` is a permanent refusal (issue 23): dead at once with a readable reason, not retried
    six times; once the operator has verified the sender, an admin requeues it and it goes out."""
    account = make_account(password=PERMANENT, **ACCOUNT)

    browser, page, _ = forgot(live_server, "client@example.com")

    [password] = issued
    assert page.status_code == 200 and password not in page.text
    failures = [r.getMessage() for r in capture.records if r.levelno >= logging.ERROR]
    assert any("SES refused the message: MessageRejected" in line and "c***@example.com" in line
               for line in failures)
    assert password not in "\n".join(r.getMessage() for r in capture.records)
    with app.app_context():
        row = db.session.execute(select(Delivery)).scalar_one()
        assert (row.account_id, row.status, row.attempts) == (account.id, DEAD, 1)
        assert row.last_error.startswith("SES refused the message: MessageRejected (SES refuses this message")
        assert "not retried" in row.last_error and row.payload
    assert moto_server.emails() == []
    assert [r.action for r in moto_server.requests("ses")] == ["SendEmail"]  # it reached SES, which said no
    assert_permanent_password_still_works(browser, "client@example.com")

    clock.advance(hours=2)  # no retry of its own, however long one waits
    with app.app_context():
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
    assert len(moto_server.requests("ses", "SendEmail")) == 1

    # The operator verifies the sender; the admin requeues; it carries the very password that is stored.
    moto_server.verify_sender("noreply@unverified.example")
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.requeue(row.id)
        assert dispatcher.run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        assert db.session.execute(select(Delivery.status)).scalar_one() == SENT
    [received] = moto_server.emails()
    assert received.sender == "noreply@unverified.example" and received.to == ["client@example.com"]
    assert f"Временный пароль - {password}\n" in received.text
    page = browser.submit("/login", {"login": "client@example.com", "password": password, "action": "signin"})
    assert page.url.endswith("/password/change")


# --- the transports' errors, and the clients' settings ------------------------------------------------

def silent_endpoint():
    """A loopback port that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server, f"http://127.0.0.1:{server.getsockname()[1]}"


def transports(endpoint_url: str, *, read_timeout: float = 0.3):
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION)
    config = Config(connect_timeout=1, read_timeout=read_timeout, retries={"total_max_attempts": 1})
    ses = session.client("sesv2", endpoint_url=endpoint_url, config=config)
    sns = session.client("sns", endpoint_url=endpoint_url, config=config)
    return SesTransport(ses, sender="a@b.example"), SnsTransport(sns, sender_id="MetLife")


MESSAGES = {
    "SES": OutgoingMessage(channel=EMAIL, recipient="client@example.com", template="t", subject="s",
                           text="x"),
    "SNS": OutgoingMessage(channel=SMS, recipient="+79161234567", template="t", text="x"),
}


def test_no_answer_after_the_request_left_may_have_been_sent():
    """A read timeout may follow a message SES or SNS took: ``maybe_sent``, so it is not blindly resent."""
    server, url = silent_endpoint()
    try:
        for service, transport in zip(("SES", "SNS"), transports(url)):
            with pytest.raises(DeliveryError) as caught:
                transport.send(MESSAGES[service])
            assert str(caught.value) == f"{service} did not answer: ReadTimeoutError"
            assert caught.value.maybe_sent is True
    finally:
        server.close()


def test_a_refused_connection_was_certainly_not_sent(aws_unreachable):
    for service, transport in zip(("SES", "SNS"), transports(aws_unreachable)):
        with pytest.raises(DeliveryError) as caught:
            transport.send(MESSAGES[service])
        assert str(caught.value) == f"{service} unreachable: EndpointConnectionError"
        assert caught.value.maybe_sent is False


def test_courier_clients_fail_fast_by_default(aws_unreachable, settings):
    courier = build_courier(settings.replace(email_transport="ses", sms_transport="sns"))
    for channel in (EMAIL, SMS):
        config = courier.transports[channel].client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (AWS_CONNECT_TIMEOUT, AWS_READ_TIMEOUT)
        assert config.retries["total_max_attempts"] == AWS_MAX_ATTEMPTS
    started = time.monotonic()
    with pytest.raises(DeliveryError):
        courier.send(MESSAGES["SES"])
    assert time.monotonic() - started < 3


def test_aws_max_attempts_does_not_bring_back_sdk_retries_of_sends(aws_unreachable, settings, monkeypatch):
    """One request per send (issue 23): the outbox alone retries; an SDK retry after a read timeout could
    deliver a message twice."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    courier = build_courier(settings.replace(email_transport="ses", sms_transport="sns"))
    for channel in (EMAIL, SMS):
        retries = courier.transports[channel].client.meta.config.retries
        assert retries["total_max_attempts"] == 1 and retries["mode"] == "standard"


def test_no_region_stops_start_up_with_a_clear_message(aws_unreachable, settings, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(SettingsError, match="AWS_REGION"):
        build_courier(settings.replace(sms_transport="sns"))


def test_mailbox_only_settings_need_no_aws_at_all(settings, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    courier = build_courier(settings)
    # E-mail and SMS to the mailbox file; the HTTP channel (back-channel logout) needs no AWS either.
    assert {type(t).__name__ for t in courier.transports.values()} == {"MailboxTransport", "HttpPostTransport"}

