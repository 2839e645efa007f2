"""Every SMS text fits in two segments (see :mod:`idp.delivery.sms`).

Every ``sms.txt`` under ``templates/messages`` is rendered with realistic parameters (a production
issuer, a real-looking phone, a temporary password) and must stay within two segments; the app refuses
to start with a link that would make any SMS longer.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from idp.delivery import SMS, MessageRenderer
from idp.delivery.sms import MAX_SEGMENTS, sample_params, sms_segments
from idp.settings import PROJECT_ROOT, Settings, SettingsError

MESSAGES = PROJECT_ROOT / "templates" / "messages"
ISSUER = "https://lk.metlife.ru"
PARAMS = sample_params(ISSUER, ISSUER)
RENDERER = MessageRenderer(PROJECT_ROOT / "templates")


@pytest.mark.parametrize("text, expected", [
    ("a" * 160, ("GSM-7", 160, 1)),
    ("a" * 161, ("GSM-7", 161, 2)),
    ("a€" * 10, ("GSM-7", 30, 1)),
    ("я" * 70, ("UCS-2", 70, 1)),
    ("я" * 71, ("UCS-2", 71, 2)),
    ("я" * 134, ("UCS-2", 134, 2)),
    ("я" * 135, ("UCS-2", 135, 3)),
    ("Пароль 😀", ("UCS-2", 9, 1)),
])
def test_segment_arithmetic(text, expected):
    assert sms_segments(text) == expected


SMS_TEMPLATES = sorted(MESSAGES.glob("*/sms.txt"))


def test_the_templates_are_found():
    assert {path.parent.name for path in SMS_TEMPLATES} >= {"account_created", "temporary_password"}


@pytest.mark.parametrize("template", SMS_TEMPLATES, ids=lambda path: path.parent.name)
def test_every_sms_fits_in_two_segments(template: Path):
    purpose = template.parent.name
    assert purpose in PARAMS, f"add realistic parameters for {purpose!r} to idp.delivery.sms.sample_params"
    message = RENDERER.render(purpose, channel=SMS, recipient="+79161234567", params=PARAMS[purpose])
    encoding, units, segments = sms_segments(message.text)
    assert segments <= MAX_SEGMENTS, f"{purpose}: {units} {encoding} characters, {segments} segments: {message.text}"


def test_the_welcome_sms_keeps_the_seeds_words():
    message = RENDERER.render("account_created", channel=SMS, recipient="+79161234567",
                              params=PARAMS["account_created"])
    assert message.text == ('Уважаемый клиент! Мы зарегистрировали Вас в Личном кабинете https://lk.metlife.ru '
                            'Логин - номер телефона, пароль - "Забыли пароль?"')
    assert sms_segments(message.text) == ("UCS-2", 131, 2)


def test_a_short_sms_link_is_used_in_the_welcome_sms(make_app):
    app = make_app(sms_link="lk.metlife.ru")
    assert app.extensions["idp"].settings.sms_link == "lk.metlife.ru"
    from idp.policies.welcome import welcome_params

    class Someone:
        email, phone = "ivan@example.com", "+79161234567"

    params = welcome_params(Someone(), "https://lk.metlife.ru", "lk.metlife.ru")
    text = RENDERER.render("account_created", channel=SMS, recipient=Someone.phone, params=params).text
    assert "Личном кабинете lk.metlife.ru Логин" in text and sms_segments(text)[2] == 2


def test_the_link_defaults_to_the_issuer(tmp_path):
    settings = Settings.from_env(environ={"IDP_INSTANCE_DIR": str(tmp_path), "IDP_ISSUER": ISSUER + "/"})
    assert settings.sms_link == ISSUER


def test_the_app_refuses_a_link_that_makes_an_sms_too_long(make_app):
    with pytest.raises(SettingsError) as refused:
        make_app(sms_link="https://client-services.metlife.ru/personal-account")
    assert "account_created" in str(refused.value) and "3 segments" in str(refused.value)
