"""SMS length: every text must fit in two segments, checked when the app starts.

Cyrillic SMS travel as UCS-2: 70 characters in a single segment, 67 per segment once concatenated (the
header takes the rest). Latin-only texts use GSM-7: 160, and 153 when concatenated. A third segment costs
money and some phones show the parts out of order, so the app refuses to start when a template, rendered
with the configured link and the longest realistic values, would need one.
"""
from __future__ import annotations

from pathlib import Path

from idp.delivery.message import SMS
from idp.delivery.rendering import MessageRenderer

MAX_SEGMENTS = 2

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


def sample_params(issuer: str, sms_link: str) -> dict[str, dict]:
    """The longest realistic parameters of every SMS purpose (a new SMS template must be added here)."""
    return {
        "account_created": {"login_url": issuer + "/login", "site_url": sms_link,
                            "email": "ivanov.ivan1980@example.com", "phone": "+7 916 123-45-67"},
        # the longer text: sent by SMS because the e-mail login's address bounced (idp.delivery.receipts)
        "temporary_password": {"password": "K5rduj6o", "login_url": issuer + "/login", "email_undeliverable": True},
        "password_changed": {"login_url": issuer + "/login"},
    }


def oversized_sms(renderer: MessageRenderer, templates_dir: str | Path, *, issuer: str,
                  sms_link: str) -> list[str]:
    """A line for every SMS template that would need more than two segments (or has no sample values)."""
    samples = sample_params(issuer, sms_link)
    problems = []
    for path in sorted((Path(templates_dir) / "messages").glob("*/sms.txt")):
        purpose = path.parent.name
        if purpose not in samples:
            problems.append(f"{purpose}: no sample values in idp.delivery.sms.sample_params")
            continue
        text = renderer.render(purpose, channel=SMS, recipient="+79161234567", params=samples[purpose]).text
        encoding, units, segments = sms_segments(text)
        if segments > MAX_SEGMENTS:
            problems.append(f"{purpose}: {units} {encoding} characters = {segments} segments: {text}")
    return problems
