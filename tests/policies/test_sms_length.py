"""Every SMS text fits in two segments.

Cyrillic SMS travel as UCS-2: 70 characters in a single segment, 67 per segment once concatenated (the
header takes the rest). Latin-only texts use GSM-7: 160, and 153 when concatenated. Every ``sms.txt``
under ``templates/messages`` is rendered with realistic parameters (a production issuer, a real-looking
phone, a temporary password) and must stay within two segments: a third one costs money and some
phones show the parts out of order.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from idp.delivery import SMS, MessageRenderer
from idp.settings import PROJECT_ROOT

MESSAGES = PROJECT_ROOT / "templates" / "messages"
ISSUER = "https://lk.metlife.ru"
#: Realistic parameters for each purpose; a new SMS template must be added here (the test says so).
PARAMS = {
    "account_created": {"login_url": ISSUER + "/login", "site_url": ISSUER,
                        "email": "ivanov.ivan1980@example.com", "phone": "+7 916 123-45-67"},
    "temporary_password": {"password": "K5rduj6o", "login_url": ISSUER + "/login"},
    "password_changed": {"login_url": ISSUER + "/login"},
}
MAX_SEGMENTS = 2
RENDERER = MessageRenderer(PROJECT_ROOT / "templates")

# GSM 03.38 basic character set (and the extension table, whose characters take two septets).
_GSM_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> tuple[str, int, int]:
    """(encoding, length in the encoding's units, segments) for one SMS text."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2  # characters outside the BMP take two
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // multi)
    return encoding, units, segments


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
    assert purpose in PARAMS, f"add realistic parameters for {purpose!r} to PARAMS in this test"
    message = RENDERER.render(purpose, channel=SMS, recipient="+79161234567", params=PARAMS[purpose])
    encoding, units, segments = sms_segments(message.text)
    assert segments <= MAX_SEGMENTS, f"{purpose}: {units} {encoding} characters, {segments} segments: {message.text}"


def test_the_welcome_sms_keeps_the_seeds_words():
    message = RENDERER.render("account_created", channel=SMS, recipient="+79161234567",
                              params=PARAMS["account_created"])
    assert message.text == ('Уважаемый клиент! Мы зарегистрировали Вас в Личном кабинете https://lk.metlife.ru '
                            'Логин - номер телефона, пароль - "Забыли пароль?"')
    assert sms_segments(message.text) == ("UCS-2", 131, 2)
