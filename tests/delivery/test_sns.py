"""SMS through SNS, proved against moto in server mode: number, text and SMS attributes as SNS gets them.

Nothing is patched: boto3 talks HTTP to moto on loopback through ``AWS_ENDPOINT_URL``, and the tests
read back over HTTP what moto received (see ``tests/aws.py``).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from idp.delivery import SENT, SMS, Delivery, DeliveryError, OutgoingMessage, build_courier
from idp.extensions import db
from idp.passwords.models import TemporaryPassword
from tests.aws import REGION
from tests.http import PageClient, codes

pytestmark = pytest.mark.aws

#: The seed's SMS, whole: nothing before or after it.
SMS_TEXT = re.compile(r"Ваш новый пароль для входа в Личный кабинет - ([A-Za-z0-9]{8})")


@pytest.fixture
def app(make_app, moto_server):
    """The provider sending through SES and SNS: built after ``moto_server`` set boto3's variables."""
    return make_app(email_transport="ses", sms_transport="sns")


def sms(recipient="+79161234567", text="Ваш новый пароль для входа в Личный кабинет - K5rduj6o"):
    return OutgoingMessage(channel=SMS, recipient=recipient, template="temporary_password", text=text)


def test_sns_receives_number_text_and_transactional_sender_id(moto_server, settings):
    courier = build_courier(settings.replace(sms_transport="sns"))

    message_id = courier.send(sms())

    [received] = moto_server.sms()
    assert received.message_id == message_id
    assert received.phone_number == "+79161234567"
    assert received.message == "Ваш новый пароль для входа в Личный кабинет - K5rduj6o"
    assert received.attributes == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "MetLife"},
    }
    assert received.region == REGION
    assert moto_server.emails() == []


def test_sender_id_comes_from_settings(moto_server, settings):
    build_courier(settings.replace(sms_transport="sns", sms_sender_id="MetLifeRU")).send(sms())
    [received] = moto_server.sms()
    assert received.attribute("AWS.SNS.SMS.SenderID") == "MetLifeRU"
    assert received.attribute("AWS.SNS.SMS.SMSType") == "Transactional"


def test_no_sender_id_sends_none(moto_server, settings):
    build_courier(settings.replace(sms_transport="sns", sms_sender_id="")).send(sms())
    [received] = moto_server.sms()
    assert list(received.attributes) == ["AWS.SNS.SMS.SMSType"]


def test_a_number_sns_refuses_is_a_delivery_error(moto_server, settings):
    courier = build_courier(settings.replace(sms_transport="sns"))
    with pytest.raises(DeliveryError) as caught:
        courier.send(sms(recipient="8 916 123-45-67"))  # not E.164: SNS says InvalidParameter
    assert str(caught.value) == "SNS refused the message: InvalidParameter"
    assert caught.value.maybe_sent is False
    assert moto_server.sms() == [] and [r.action for r in moto_server.requests("sns")] == ["Publish"]


# --- «Забыли пароль?» through real HTTP, the SMS going out through SNS ---------------------------------

def test_forgot_password_by_phone_arrives_through_sns_and_signs_in(moto_server, app, live_server, make_account):
    make_account(email="client@example.com", phone="+79161234567")
    browser = PageClient(live_server.url)
    browser.get("/login")

    page = browser.submit("/login", {"login": "8 (916) 123 45 67", "password": "", "action": "forgot"})
    assert page.status_code == 200 and "reset.sent_phone" in codes(page.text)

    [received] = moto_server.sms()
    assert received.phone_number == "+79161234567"
    match = SMS_TEXT.fullmatch(received.message)
    assert match, received.message
    assert received.attribute("AWS.SNS.SMS.SMSType") == "Transactional"
    assert received.attribute("AWS.SNS.SMS.SenderID") == "MetLife"
    assert moto_server.emails() == []  # a phone login gets an SMS only

    with app.app_context():
        row = db.session.execute(select(Delivery)).scalar_one()
        assert (row.status, row.channel, row.provider_message_id) == (SENT, "sms", received.message_id)

    # The password SNS carried is the one stored: it opens «Изменение пароля».
    password = match.group(1)
    page = browser.submit("/login", {"login": "8 (916) 123 45 67", "password": password, "action": "signin"})
    assert page.url.endswith("/password/change") and "Изменение пароля" in page.text


def test_unknown_phone_login_gets_the_same_answer_and_sns_receives_nothing(moto_server, live_server, app):
    browser = PageClient(live_server.url)
    browser.get("/login")
    page = browser.submit("/login", {"login": "+7 916 765-43-21", "password": "", "action": "forgot"})
    assert page.status_code == 200 and "reset.sent_phone" in codes(page.text)
    assert moto_server.sms() == [] and moto_server.emails() == []
    assert moto_server.requests() == []  # not even a refused attempt
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(TemporaryPassword)).scalar() == 0
        assert db.session.execute(select(func.count()).select_from(Delivery)).scalar() == 0
