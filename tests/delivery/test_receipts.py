"""Delivery receipts: SES events and SMS statuses through SNS to ``POST /api/delivery/sns``, end to end.

Messages go out through moto in server mode (SES ``SendEmail``, SNS ``Publish``), which gives the ids the
receipts are matched by. moto emits no SES event-publishing events and no SMS delivery statuses, and signs
what it emits with no key anyone holds, so the tests post notifications of the documented shapes, signed
SHA256withRSA (SignatureVersion 2) by a key and self-signed certificate made here, which the app trusts
through ``IDP_SNS_TEST_CERTIFICATE``. Everything travels over real HTTP; nothing in the app is patched.
"""
from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from idp.audit.models import AuditEvent
from idp.delivery import SENT, Delivery
from idp.delivery.models import (BOUNCED, COMPLAINED, DELIVERED, FAILED, SnsSubscriptionConfirmation,
                                 UndeliverableRecipient)
from idp.delivery.sns_messages import UnverifiedMessage, canonical_string, check_certificate_url
from idp.extensions import db
from idp.passwords.models import TemporaryPassword
from idp.settings import Settings, SettingsError
from tests.aws import REGION
from tests.http import PageClient, codes

pytestmark = pytest.mark.aws

ACCOUNT_ID = "123456789012"  # moto's account
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:idp-delivery-receipts"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
EMAIL, PHONE = "client@example.com", "+79161234567"


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    start = datetime.now(timezone.utc) - timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signing_key():
    return _key()


@pytest.fixture
def certificate_path(tmp_path, signing_key):
    path = tmp_path / "sns-test-certificate.pem"
    path.write_bytes(_certificate(signing_key))
    return path


@pytest.fixture
def app(make_app, moto_server, certificate_path):
    """SES and SNS through moto, receipts from TOPIC, the test certificate trusted."""
    return make_app(email_transport="ses", sms_transport="sns", sns_topic_arns=TOPIC,
                    sns_test_certificate=str(certificate_path))


class Sns:
    """Builds SNS messages as SNS posts them, signed by ``key``."""

    def __init__(self, key, clock, url):
        self.key, self.clock, self.url = key, clock, url

    def sign(self, message: dict, key=None) -> dict:
        signature = (key or self.key).sign(canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
        return {**message, "Signature": base64.b64encode(signature).decode()}

    def envelope(self, kind: str, **fields) -> dict:
        return {"Type": kind, "MessageId": str(uuid.uuid4()), "TopicArn": TOPIC,
                "Timestamp": self.clock.now().isoformat(timespec="milliseconds") + "Z",
                "SignatureVersion": "2", "SigningCertURL": CERT_URL,
                "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe", **fields}

    def notification(self, event: dict | str, **fields) -> dict:
        body = event if isinstance(event, str) else json.dumps(event)
        return self.sign(self.envelope("Notification", Message=body, **fields))

    def post(self, message: dict | bytes, kind: str = "Notification") -> requests.Response:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        return requests.post(self.url + "/api/delivery/sns", data=body, timeout=10,
                             headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind,
                                      "x-amz-sns-topic-arn": TOPIC})


@pytest.fixture
def sns(signing_key, clock, live_server):
    return Sns(signing_key, clock, live_server.url)


def ses_event(kind: str, message_id: str, **detail) -> dict:
    """An SES event-publishing record, as SES publishes it to SNS
    (https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html)."""
    mail = {"timestamp": "2026-11-25T09:00:00.000Z", "source": "eservices@metlife.ru",
            "sendingAccountId": ACCOUNT_ID, "messageId": message_id, "destination": [EMAIL],
            "headersTruncated": False, "headers": [], "commonHeaders": {"from": ["eservices@metlife.ru"],
                                                                          "to": [EMAIL]},
            "tags": {"ses:configuration-set": ["idp-receipts"]}}
    event = {"eventType": kind, "mail": mail}
    if kind == "Delivery":
        event["delivery"] = {"timestamp": "2026-11-25T09:00:01.000Z", "processingTimeMillis": 640,
                             "recipients": [EMAIL], "smtpResponse": "250 2.6.0 Message received",
                             "reportingMTA": "a8-70.smtp-out.amazonses.com"}
    elif kind == "Bounce":
        event["bounce"] = {"bounceType": detail.get("bounce_type", "Permanent"),
                           "bounceSubType": detail.get("sub_type", "General"),
                           "bouncedRecipients": [{"emailAddress": EMAIL, "action": "failed", "status": "5.1.1",
                                                  "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                           "timestamp": "2026-11-25T09:00:01.000Z", "feedbackId": "0102-bounce"}
    elif kind == "Complaint":
        event["complaint"] = {"complainedRecipients": [{"emailAddress": EMAIL}], "timestamp": "2026-11-25T09:00:02Z",
                              "feedbackId": "0102-complaint", "complaintFeedbackType": "abuse",
                              "userAgent": "Mail.ru feedback loop"}
    return event


def sms_status(message_id: str, status: str = "SUCCESS",
               response: str = "Message has been accepted by phone carrier") -> dict:
    """An SNS SMS delivery-status record (https://docs.aws.amazon.com/sns/latest/dg/sms_stats_cloudwatch.html)."""
    return {"notification": {"messageId": message_id, "timestamp": "2026-11-25 09:00:00.100"},
            "delivery": {"mnc": 1, "numberOfMessageParts": 1, "destination": PHONE, "priceInUSD": 0.0472,
                         "smsType": "Transactional", "mcc": 250, "providerResponse": response,
                         "dwellTimeMs": 290, "dwellTimeMsUntilDeviceAck": 1400},
            "status": status}


def forgot(live_server, login: str) -> list[str]:
    browser = PageClient(live_server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": login, "password": "", "action": "forgot"})
    assert page.status_code == 200
    return codes(page.text)


def rows(app) -> list[Delivery]:
    with app.app_context():
        found = list(db.session.execute(select(Delivery).order_by(Delivery.id)).scalars())
        db.session.expunge_all()
        return found


def marks(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        found = db.session.execute(select(UndeliverableRecipient)).scalars()
        return [(m.recipient, m.channel, m.reason) for m in found]


def events(app, name: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.execute(select(AuditEvent).where(AuditEvent.event == name)).scalars())
        db.session.expunge_all()
        return found


def sent_email(app, live_server, moto_server) -> Delivery:
    """A temporary password e-mailed through SES (moto) to EMAIL; its outbox row."""
    assert forgot(live_server, EMAIL) == ["reset.sent_email"]
    [row] = [r for r in rows(app) if r.status == SENT]
    [received] = moto_server.emails(to=EMAIL)
    assert (row.channel, row.provider_message_id) == ("email", received.message_id)
    return row


# --- e-mail ---------------------------------------------------------------------------------------------

def test_an_ses_delivery_event_marks_the_message_delivered(app, live_server, moto_server, make_account, sns, clock):
    make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)
    clock.advance(seconds=30)

    answer = sns.post(sns.notification(ses_event("Delivery", row.provider_message_id)))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"result": "recorded", "delivery_id": row.id, "status": DELIVERED, "marked": False}
    [after] = rows(app)
    assert (after.status, after.outcome_detail, after.outcome_at) == (DELIVERED, "delivered", clock.now())
    assert marks(app) == []


def test_a_hard_bounce_marks_the_address_and_the_next_password_goes_to_the_phone(app, live_server, moto_server,
                                                                                 make_account, sns, clock):
    account = make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)

    answer = sns.post(sns.notification(ses_event("Bounce", row.provider_message_id)))

    assert answer.status_code == 200 and answer.json()["marked"] is True, answer.text
    [after] = rows(app)
    assert (after.status, after.outcome_detail) == (BOUNCED, "hard: Permanent/General")
    assert marks(app) == [(EMAIL, "email", "bounce:Permanent/General")]
    [marked] = events(app, "delivery.recipient_marked")
    assert marked.account_id == account.id
    assert marked.details == {"delivery_id": row.id, "channel": "email", "reason": "bounce:Permanent/General"}

    # «Забыли пароль?» again: the page says what it says for any e-mail login; the password goes by SMS,
    # which says why; no e-mail is sent to the address that bounced.
    clock.advance(minutes=5)
    assert forgot(live_server, EMAIL) == ["reset.sent_email"]
    assert len(moto_server.emails(to=EMAIL)) == 1  # still only the first one
    [sms] = moto_server.sms(to=PHONE)
    assert sms.message.startswith("Письма на ваш e-mail не доходят, поэтому пароль пришёл по SMS. "
                                  "Ваш новый пароль для входа в Личный кабинет - ")
    password = sms.message.rsplit(" ", 1)[1]
    with app.app_context():
        temp = db.session.execute(select(TemporaryPassword).order_by(TemporaryPassword.id.desc())).scalars().first()
        assert temp.channel == "sms"
    newest = rows(app)[-1]
    assert (newest.channel, newest.recipient, newest.status) == ("sms", PHONE, SENT)

    # The SMS password signs the e-mail login in; it proves the phone, not the address: the mark stays.
    browser = PageClient(live_server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": EMAIL, "password": password, "action": "signin"})
    assert page.url.endswith("/password/change")
    assert marks(app) == [(EMAIL, "email", "bounce:Permanent/General")]


def test_a_soft_bounce_is_recorded_as_soft_and_marks_nothing(app, live_server, moto_server, make_account, sns):
    make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)

    answer = sns.post(sns.notification(ses_event("Bounce", row.provider_message_id, bounce_type="Transient",
                                                 sub_type="MailboxFull")))

    assert answer.status_code == 200 and answer.json()["marked"] is False
    [after] = rows(app)
    assert (after.status, after.outcome_detail) == (BOUNCED, "soft: Transient/MailboxFull")
    assert marks(app) == [] and events(app, "delivery.recipient_marked") == []


def test_a_complaint_marks_the_address_once_and_a_milder_or_repeated_receipt_changes_nothing(
        app, live_server, moto_server, make_account, sns):
    make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)
    complaint = sns.notification(ses_event("Complaint", row.provider_message_id))

    assert sns.post(complaint).json()["status"] == COMPLAINED
    assert (rows(app)[0].status, rows(app)[0].outcome_detail) == (COMPLAINED, "complaint: abuse")
    assert marks(app) == [(EMAIL, "email", "complaint:abuse")]

    again = sns.post(complaint)  # SNS delivers at least once
    later = sns.post(sns.notification(ses_event("Delivery", row.provider_message_id)))
    assert again.json() == later.json() == {"result": "unchanged", "delivery_id": row.id, "status": COMPLAINED}
    assert rows(app)[0].status == COMPLAINED
    assert len(events(app, "delivery.recipient_marked")) == 1


def test_a_receipt_for_a_message_not_ours_is_acknowledged_and_ignored(app, live_server, make_account, sns):
    answer = sns.post(sns.notification(ses_event("Bounce", "0102-not-a-message-of-ours")))
    assert answer.status_code == 200 and answer.json() == {"result": "unknown_message"}
    other = sns.post(sns.notification({"eventType": "Open", "mail": {"messageId": "x"}, "open": {}}))
    assert other.status_code == 200 and other.json() == {"result": "ignored", "event": "Open"}
    assert marks(app) == []


# --- SMS ------------------------------------------------------------------------------------------------

def test_sms_delivery_statuses_mark_the_message_delivered_or_failed(app, live_server, moto_server, make_account,
                                                                   sns, clock):
    make_account(email=None, phone=PHONE)
    assert forgot(live_server, "8 916 123-45-67") == ["reset.sent_phone"]
    [first] = moto_server.sms(to=PHONE)
    answer = sns.post(sns.notification(sms_status(first.message_id)))
    assert answer.status_code == 200 and answer.json()["status"] == DELIVERED
    [row] = rows(app)
    assert (row.status, row.outcome_detail) == (DELIVERED, "delivered: Message has been accepted by phone carrier")

    clock.advance(minutes=5)
    assert forgot(live_server, PHONE) == ["reset.sent_phone"]
    second = moto_server.sms(to=PHONE)[-1]
    answer = sns.post(sns.notification(sms_status(second.message_id, "FAILURE", "Phone is currently unreachable")))
    assert answer.status_code == 200 and answer.json()["status"] == FAILED
    row = rows(app)[-1]
    assert (row.status, row.outcome_detail) == (FAILED, "failed: Phone is currently unreachable")
    assert marks(app) == []  # an SMS failure marks nothing: there is no other channel to fall back to


# --- what is refused ------------------------------------------------------------------------------------

def _tampered(sns, message):
    return {**message, "Message": message["Message"].replace("Permanent", "Transient")}


REFUSED = {
    # name: (how to make the message from a good one, status, error_code)
    "tampered": (lambda sns, good: _tampered(sns, good), 403, "sns.signature"),
    "another key": (lambda sns, good: sns.sign({k: v for k, v in good.items() if k != "Signature"}, key=_key()),
                    403, "sns.signature"),
    "another topic": (lambda sns, good: sns.sign({**good, "TopicArn": TOPIC + "-other"}), 403, "sns.topic"),
    "signature version 1": (lambda sns, good: sns.sign({**good, "SignatureVersion": "1"}), 403,
                            "sns.signature_version"),
    "certificate over http": (lambda sns, good: sns.sign({**good, "SigningCertURL": CERT_URL.replace(
        "https:", "http:")}), 403, "sns.certificate_url"),
    "certificate elsewhere": (lambda sns, good: sns.sign({**good, "SigningCertURL": CERT_URL.replace(
        ".amazonaws.com/", ".amazonaws.com.attacker.example/")}), 403, "sns.certificate_url"),
    "certificate of another region": (lambda sns, good: sns.sign({**good, "SigningCertURL": CERT_URL.replace(
        REGION, "us-east-1")}), 403, "sns.certificate_url"),
    "certificate with a port": (lambda sns, good: sns.sign({**good, "SigningCertURL": CERT_URL.replace(
        ".com/", ".com:8443/")}), 403, "sns.certificate_url"),
    "certificate behind a user": (lambda sns, good: sns.sign({**good, "SigningCertURL": CERT_URL.replace(
        "https://", "https://attacker.example@")}), 403, "sns.certificate_url"),
    "an hour old": (lambda sns, good: sns.sign({**good, "Timestamp": "2026-11-25T07:59:00.000Z"}), 403,
                    "sns.stale"),
    "not JSON": (lambda sns, good: b"\x00not json", 400, "sns.malformed"),
    "a JSON list": (lambda sns, good: b"[]", 400, "sns.malformed"),
    "nested past any parser": (lambda sns, good: b"[" * 100_000, 400, "sns.malformed"),
    "unknown type": (lambda sns, good: {**good, "Type": "Surprise"}, 400, "sns.malformed"),
    "no signature": (lambda sns, good: {k: v for k, v in good.items() if k != "Signature"}, 400, "sns.malformed"),
    "signature not base64": (lambda sns, good: {**good, "Signature": "%%%"}, 400, "sns.signature"),
    "a number for a string": (lambda sns, good: {**good, "MessageId": 7}, 400, "sns.malformed"),
    "Message not JSON": (lambda sns, good: sns.sign({**good, "Message": "bounce!"}), 400, "receipt.malformed"),
    "Message of no known shape": (lambda sns, good: sns.sign({**good, "Message": '{"hello": 1}'}), 400,
                                  "receipt.unknown"),
    "bounce without its type": (lambda sns, good: sns.sign({**good, "Message": json.dumps(
        {"eventType": "Bounce", "mail": json.loads(good["Message"])["mail"], "bounce": {}})}), 400,
        "receipt.malformed"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_or_unverifiable_notification_gets_a_json_4xx_and_changes_nothing(case, app, live_server, moto_server,
                                                                               make_account, sns):
    make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)
    make, status, code = REFUSED[case]
    good = sns.notification(ses_event("Bounce", row.provider_message_id))

    answer = sns.post(make(sns, good))

    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error_code"] == code
    assert answer.json()["error"] == ("access_denied" if status == 403 else "invalid_request")
    [after] = rows(app)
    assert (after.status, after.outcome_at, after.outcome_detail) == (SENT, None, None)
    assert marks(app) == [] and events(app, "delivery.recipient_marked") == []
    # The good one still works afterwards: nothing was poisoned.
    assert sns.post(good).json()["status"] == BOUNCED


def test_without_configured_topics_the_endpoint_is_a_404(make_app, moto_server, clock, signing_key, http_server):
    app = make_app()
    server = http_server.start(app)
    answer = Sns(signing_key, clock, server.url).post(b"{}")
    assert answer.status_code == 404 and answer.json()["error_code"] == "receipts.disabled"


@pytest.mark.parametrize("url, allowed", [
    (f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem", True),
    (f"https://sns.{REGION}.amazonaws.com/a/b.pem", True),
    (f"http://sns.{REGION}.amazonaws.com/SimpleNotificationService-abc.pem", False),
    ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
    (f"https://sns.{REGION}.amazonaws.com.example.org/x.pem", False),
    (f"https://x.sns.{REGION}.amazonaws.com/x.pem", False),
    (f"https://SNS.{REGION}.amazonaws.com/x.pem", False),
    (f"https://sns.{REGION}.amazonaws.com:443/x.pem", False),
    (f"https://sns.{REGION}.amazonaws.com/x.pem?x=1", False),
    (f"https://sns.{REGION}.amazonaws.com/x.pem#x", False),
    (f"https://sns.{REGION}.amazonaws.com/x.txt", False),
    (f"https://u@sns.{REGION}.amazonaws.com/x.pem", False),
    (f"https://sns.{REGION}.amazonaws.com\\@evil.example/x.pem", False),
    ("not a url at all", False),
])
def test_the_signing_certificate_comes_only_from_sns_of_the_topics_region(url, allowed):
    if allowed:
        check_certificate_url(url, REGION)
    else:
        with pytest.raises(UnverifiedMessage):
            check_certificate_url(url, REGION)


# --- the subscription, confirmed by the operator ---------------------------------------------------------

def test_a_subscription_confirmation_waits_for_the_operator_who_confirms_it_through_the_sns_api(
        app, live_server, moto_server, sns, run_cli):
    assert moto_server.client("sns").create_topic(Name="idp-delivery-receipts")["TopicArn"] == TOPIC
    # SubscribeURL names a loopback port that counts visitors: the provider never goes there by itself.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        subscribe_url = f"http://127.0.0.1:{listener.getsockname()[1]}/?Action=ConfirmSubscription&Token=t"
        confirmation = sns.sign(sns.envelope(
            "SubscriptionConfirmation", Token="2336412f37fb687f5d51e6e2425ba1f3" * 4, SubscribeURL=subscribe_url,
            Message=f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the "
                    "SubscribeURL included in this message."))

        answer = sns.post(confirmation, kind="SubscriptionConfirmation")

        assert answer.status_code == 200 and answer.json() == {"result": "pending_confirmation"}
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert moto_server.requests("sns", "ConfirmSubscription") == []

    moto_server.reset_recording()
    result = run_cli("deliveries", "confirm-subscription", "--json")

    assert result.exit_code == 0, result.output
    [confirmed] = json.loads(result.output)
    assert confirmed["topic_arn"] == TOPIC and confirmed["subscription_arn"].startswith(TOPIC + ":")
    [call] = moto_server.requests("sns", "ConfirmSubscription")
    assert call.form()["TopicArn"] == TOPIC and call.form()["Token"] == confirmation["Token"]
    assert call.form()["AuthenticateOnUnsubscribe"] == "true" and call.region == REGION
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SnsSubscriptionConfirmation)).scalar() == 0
    [audited] = events(app, "admin.action")
    assert audited.details == {"action": "confirm_sns_subscription", "via": "cli", "topic_arn": TOPIC}

    again = run_cli("deliveries", "confirm-subscription", "--json")
    assert again.exit_code == 1 and json.loads(again.output)["error"] == "receipts.no_confirmation"


def test_a_confirmation_from_another_topic_is_refused(app, live_server, sns):
    other = sns.sign({**sns.envelope("SubscriptionConfirmation", Token="t" * 64, Message="subscribe",
                                     SubscribeURL="https://sns.eu-central-1.amazonaws.com/?Action=ConfirmSubscription"),
                      "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:someone-elses"})
    answer = sns.post(other, kind="SubscriptionConfirmation")
    assert answer.status_code == 403 and answer.json()["error_code"] == "sns.topic"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(SnsSubscriptionConfirmation)).scalar() == 0


# --- lifting a mark ---------------------------------------------------------------------------------------

def test_an_operator_lifts_a_mark_and_e_mail_goes_to_the_address_again(app, live_server, moto_server, make_account,
                                                                      sns, clock, run_cli):
    account = make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)
    sns.post(sns.notification(ses_event("Complaint", row.provider_message_id)))

    listed = run_cli("deliveries", "undeliverable", "--json")
    assert listed.exit_code == 0 and json.loads(listed.output) == [{
        "recipient": "c***@example.com", "channel": "email", "reason": "complaint:abuse",
        "marked_at": clock.now().isoformat() + "Z", "delivery_id": row.id}]

    cleared = run_cli("deliveries", "clear-undeliverable", "Client@Example.com", "--json")
    assert cleared.exit_code == 0 and json.loads(cleared.output) == {"cleared": True, "channel": "email"}
    assert marks(app) == []
    [audited] = events(app, "delivery.recipient_cleared")
    assert (audited.account_id, audited.details) == (account.id, {"channel": "email", "via": "cli"})
    missing = run_cli("deliveries", "clear-undeliverable", EMAIL, "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "receipts.not_marked"

    clock.advance(minutes=5)
    assert forgot(live_server, EMAIL) == ["reset.sent_email"]
    assert len(moto_server.emails(to=EMAIL)) == 2 and moto_server.sms() == []


def test_a_customer_without_a_phone_proves_the_address_with_the_password_sent_there(app, live_server, moto_server,
                                                                                   make_account, sns, clock):
    account = make_account(email=EMAIL, phone=None)
    row = sent_email(app, live_server, moto_server)
    sns.post(sns.notification(ses_event("Bounce", row.provider_message_id)))
    assert marks(app) == [(EMAIL, "email", "bounce:Permanent/General")]

    # No phone to fall back to: the password still goes to the address (the bounce may have been passing).
    clock.advance(minutes=5)
    assert forgot(live_server, EMAIL) == ["reset.sent_email"]
    received = moto_server.emails(to=EMAIL)[-1]
    password = received.text.split("Временный пароль - ", 1)[1].split()[0]

    browser = PageClient(live_server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": EMAIL, "password": password, "action": "signin"})
    assert page.url.endswith("/password/change")
    page = browser.submit("/password/change", {"temporary": password, "new": "Polis2027", "confirm": "Polis2027"})
    assert page.url.endswith("/login"), page.text[:300]
    assert marks(app) == []
    [audited] = events(app, "delivery.recipient_cleared")
    assert (audited.account_id, audited.details) == (account.id, {"channel": "email", "via": "customer"})


# --- settings ---------------------------------------------------------------------------------------------

PRODUCTION = {"IDP_ENV": "production", "IDP_SECRET_KEY": "s" * 40, "IDP_PASSWORD_PEPPER": "p" * 40,
              "IDP_ISSUER": "https://lk.example.com", "IDP_EMAIL_TRANSPORT": "ses", "IDP_SMS_TRANSPORT": "sns",
              "IDP_DELIVERY_MODE": "worker", "IDP_SNS_TOPIC_ARNS": TOPIC}


def test_production_refuses_a_test_certificate(certificate_path):
    assert Settings.from_env(PRODUCTION).receipt_topics == (TOPIC,)
    with pytest.raises(SettingsError, match="IDP_SNS_TEST_CERTIFICATE"):
        Settings.from_env({**PRODUCTION, "IDP_SNS_TEST_CERTIFICATE": str(certificate_path)})


@pytest.mark.parametrize("arn", ["arn:aws:sqs:eu-central-1:123456789012:q", "idp-receipts",
                                 "arn:aws:sns:eu-central-1:1234:t", f"{TOPIC},https://example.com"])
def test_a_topic_that_is_no_sns_topic_arn_is_refused(arn):
    with pytest.raises(SettingsError, match="IDP_SNS_TOPIC_ARNS"):
        Settings.from_env({"IDP_SNS_TOPIC_ARNS": arn})


# --- moto's own SNS posting to the endpoint -----------------------------------------------------------

class Relay:
    """A loopback HTTP hop between moto's SNS and the provider: keeps what SNS posted and what was answered."""

    def __init__(self, target: str):
        self.exchanges: list[tuple[dict, int, dict]] = []
        relay, http = self, requests.Session()
        http.trust_env = False

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = http.post(target, data=body, timeout=10,
                                   headers={"Content-Type": self.headers.get("Content-Type", "")})
                relay.exchanges.append((json.loads(body), answer.status_code, answer.json()))
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/delivery/sns"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_moto_sns_posts_a_signed_ses_event_which_is_verified_and_recorded(make_app, moto_server, clock, tmp_path,
                                                                          http_server, make_account):
    """moto's SNS signs what it posts to an HTTP subscriber (SignatureVersion 2, a key of its own) and serves the
    certificate at the SigningCertURL's path, as SNS does. Until the app trusts that certificate the notification
    is refused and changes nothing; once the test trusts it (as production trusts SNS's), the same kind of
    notification is verified and recorded."""
    clock.at = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)  # moto dates its messages now
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(_certificate(_key()))  # not moto's, yet
    app = make_app(email_transport="ses", sms_transport="sns", sns_topic_arns=TOPIC,
                   sns_test_certificate=str(trusted))
    live = http_server.start(app)
    make_account(email=EMAIL, phone=PHONE)
    assert forgot(live, EMAIL) == ["reset.sent_email"]
    [row] = rows(app)
    sns_client = moto_server.client("sns")
    assert sns_client.create_topic(Name="idp-delivery-receipts")["TopicArn"] == TOPIC
    relay = Relay(live.url + "/api/delivery/sns")
    try:
        sns_client.subscribe(TopicArn=TOPIC, Protocol="http", Endpoint=relay.url)

        sns_client.publish(TopicArn=TOPIC, Message=json.dumps(ses_event("Complaint", row.provider_message_id)))

        [(posted, status, answer)] = relay.exchanges
        assert (status, answer["error_code"]) == (403, "sns.signature")
        assert (posted["SignatureVersion"], posted["TopicArn"]) == ("2", TOPIC)
        assert rows(app)[0].status == SENT and marks(app) == []

        certificate_url = posted["SigningCertURL"]
        check_certificate_url(certificate_url, REGION)
        # moto's server routes a request by the service its Authorization names (an anonymous GET goes to its S3)
        pem = moto_server.http.get(moto_server.url + urlsplit(certificate_url).path, timeout=10, headers={
            "Host": urlsplit(certificate_url).hostname,
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIAIDPTESTING000000/20261207/{REGION}/sns/aws4_request"})
        assert pem.status_code == 200 and pem.content.startswith(b"-----BEGIN CERTIFICATE-----")
        trusted.write_bytes(pem.content)

        sns_client.publish(TopicArn=TOPIC, Message=json.dumps(ses_event("Complaint", row.provider_message_id)))
    finally:
        relay.close()

    (_, status, answer) = relay.exchanges[-1]
    assert (status, answer) == (200, {"result": "recorded", "delivery_id": row.id, "status": COMPLAINED,
                                      "marked": True})
    assert rows(app)[0].status == COMPLAINED
    assert marks(app) == [(EMAIL, "email", "complaint:abuse")]


def test_an_event_larger_than_a_form_is_taken_and_one_larger_than_sns_sends_is_refused(app, live_server, moto_server,
                                                                                       make_account, sns):
    """SES events carry the mail's headers: far more than the 64 KB a page's form may post, within SNS's 256 KB."""
    make_account(email=EMAIL, phone=PHONE)
    row = sent_email(app, live_server, moto_server)
    event = ses_event("Delivery", row.provider_message_id)
    event["mail"]["headers"] = [{"name": f"X-Header-{n}", "value": "v" * 1000} for n in range(150)]
    big = sns.notification(event)
    assert 140_000 < len(json.dumps(big)) < 256 * 1024

    answer = sns.post(big)

    assert answer.status_code == 200 and answer.json()["status"] == DELIVERED
    huge = sns.post(json.dumps({**big, "Padding": "x" * 400_000}).encode())
    assert huge.status_code == 413 and huge.json()["error"] == "request_too_large"
