"""E-mail through SES, proved against moto in server mode: what SES receives is what the customer reads.

Nothing is patched: boto3 talks HTTP to moto on loopback through ``AWS_ENDPOINT_URL``, and the tests
read back over HTTP what moto received (see ``tests/aws.py``).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from idp.delivery import EMAIL, SENT, Delivery, DeliveryError, OutgoingMessage, build_courier
from idp.extensions import db
from idp.passwords.models import TemporaryPassword
from tests.aws import DEFAULT_SENDER, REGION
from tests.http import PageClient, codes

pytestmark = pytest.mark.aws

SUBJECT = "Временный пароль для входа в Личный кабинет МетЛайф"
#: The seed's e-mail, as the text part says it (the password is 8 Latin letters and digits).
TEXT = re.compile(r"Ваш пароль для входа в Личный кабинет МетЛайф успешно сброшен\.\s+"
                  r"Временный пароль - ([A-Za-z0-9]{8})\n")


@pytest.fixture
def app(make_app, moto_server):
    """The provider sending through SES and SNS: built after ``moto_server`` set boto3's variables."""
    return make_app(email_transport="ses", sms_transport="sns")


def email(recipient="client@example.com", **fields) -> OutgoingMessage:
    values = dict(channel=EMAIL, recipient=recipient, template="temporary_password",
                  subject="Проверка: ёлка, Щука, «кавычки» — тире",
                  text="Здравствуйте!\nВременный пароль - Ab3dEf7h\n",
                  html="<p>Здравствуйте!</p><p>Временный пароль - <strong>Ab3dEf7h</strong></p>\n")
    values.update(fields)
    return OutgoingMessage(**values)


def test_ses_receives_sender_recipient_subject_and_both_bodies_intact(moto_server, settings):
    courier = build_courier(settings.replace(email_transport="ses"))
    message = email()

    message_id = courier.send(message)

    [received] = moto_server.emails()
    assert received.message_id == message_id
    assert received.sender == DEFAULT_SENDER == "eservices@metlife.ru"
    assert received.to == ["client@example.com"] and received.cc == [] and received.bcc == []
    assert received.subject == message.subject
    assert received.text == message.text and received.html == message.html
    assert received.charsets == {"subject": "UTF-8", "text": "UTF-8", "html": "UTF-8"}
    assert received.region == REGION
    assert moto_server.sms() == []


def test_sender_comes_from_settings(moto_server, settings):
    moto_server.verify_sender("noreply@metlife.ru")
    build_courier(settings.replace(email_transport="ses", email_from="noreply@metlife.ru")).send(email())
    assert [m.sender for m in moto_server.emails()] == ["noreply@metlife.ru"]


def test_aws_region_alone_is_enough(moto_server, settings, monkeypatch):
    """``AWS_REGION`` is the documented variable; botocore by itself reads only ``AWS_DEFAULT_REGION``."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    moto_server.verify_sender(DEFAULT_SENDER, region="eu-west-1")  # SES identities are per region
    build_courier(settings.replace(email_transport="ses")).send(email())
    # The request was signed for the region named, and moto kept it in that region's SES.
    assert [m.region for m in moto_server.emails()] == ["eu-west-1"]


def test_internationalised_domain_goes_to_ses_in_punycode(moto_server, settings):
    """SES has no SMTPUTF8: a Cyrillic domain (.рф) must reach it as Punycode, or real SES refuses it."""
    courier = build_courier(settings.replace(email_transport="ses"))
    courier.send(email(recipient="client@почта.рф"))
    assert [m.to for m in moto_server.emails()] == [["client@xn--80a1acny.xn--p1ai"]]


def test_non_ascii_local_part_is_a_delivery_error_before_any_request(moto_server, settings):
    courier = build_courier(settings.replace(email_transport="ses"))
    with pytest.raises(DeliveryError) as caught:
        courier.send(email(recipient="клиент@почта.рф"))
    assert "клиент" not in str(caught.value)
    assert moto_server.requests() == []


def test_unverified_sender_is_refused_by_ses(moto_server, settings):
    courier = build_courier(settings.replace(email_transport="ses", email_from="nobody@unverified.example"))
    with pytest.raises(DeliveryError) as caught:
        courier.send(email())
    assert str(caught.value) == "SES refused the message: MessageRejected"
    assert caught.value.maybe_sent is False
    assert moto_server.emails() == []
    # It did reach SES, which said no.
    assert [r.action for r in moto_server.requests("ses")] == ["SendEmail"]


# --- «Забыли пароль?» through real HTTP, the e-mail going out through SES ------------------------------

def test_forgot_password_by_email_arrives_through_ses_and_signs_in(moto_server, app, live_server, make_account):
    make_account(email="client@example.com", phone="+79161234567")
    browser = PageClient(live_server.url)
    browser.get("/login")

    page = browser.submit("/login", {"login": "Client@Example.com", "password": "", "action": "forgot"})
    assert page.status_code == 200 and "reset.sent_email" in codes(page.text)

    [received] = moto_server.emails()
    assert received.to == ["client@example.com"] and received.sender == "eservices@metlife.ru"
    assert received.subject == SUBJECT
    match = TEXT.search(received.text)
    assert match, received.text
    password = match.group(1)
    login_url = live_server.url + "/login"
    assert f"Войти в Личный кабинет: {login_url}\n" in received.text
    assert f'href="{login_url}"' in received.html and f"<strong>{password}</strong>" in received.html
    assert "8 (499) 215 6424" in received.text and "8-800-775 64 24" in received.text
    assert moto_server.sms() == []  # an e-mail login gets an e-mail only

    with app.app_context():
        row = db.session.execute(select(Delivery)).scalar_one()
        assert (row.status, row.channel, row.provider_message_id) == (SENT, "email", received.message_id)

    # The password SES carried is the one stored: it opens «Изменение пароля».
    page = browser.submit("/login", {"login": "client@example.com", "password": password, "action": "signin"})
    assert page.url.endswith("/password/change") and "Изменение пароля" in page.text


def test_unknown_email_login_gets_the_same_answer_and_ses_receives_nothing(moto_server, live_server, app):
    browser = PageClient(live_server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": "nobody@example.com", "password": "", "action": "forgot"})
    assert page.status_code == 200 and "reset.sent_email" in codes(page.text)
    assert moto_server.emails() == [] and moto_server.sms() == []
    assert moto_server.requests() == []  # not even a refused attempt
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(TemporaryPassword)).scalar() == 0
        assert db.session.execute(select(func.count()).select_from(Delivery)).scalar() == 0
