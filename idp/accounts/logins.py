"""Login normalisation: a customer's e-mail or mobile phone, in any usual writing, to one canonical form.

E-mails are checked with email-validator (no DNS look-up) and lower-cased whole, so logins are
case-insensitive. Phones are parsed with phonenumbers, Russia as the default region, to E.164: so
``+7 916 123-45-67``, ``8 (916) 123 45 67`` and ``89161234567`` are one login.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from idp.errors import BadRequest

DEFAULT_REGION = "RU"
#: Longest input looked at: RFC 5321 caps an address at 254 characters; anything longer is not a login.
MAX_LOGIN_LENGTH = 254
_PHONE_CHARS = re.compile(r"^[0-9+()\-.\s]+$")


class InvalidLogin(BadRequest):
    code = "login.invalid"


class InvalidEmail(BadRequest):
    code = "email.invalid"


class InvalidPhone(BadRequest):
    code = "phone.invalid"


@dataclass(frozen=True)
class Login:
    kind: str  # "email" or "phone"
    value: str  # normalised: lower-case address or E.164

    @property
    def is_email(self) -> bool:
        return self.kind == "email"


def normalize_email(raw: str) -> str:
    raw = (raw or "").strip()
    if not raw or len(raw) > MAX_LOGIN_LENGTH or "\x00" in raw:
        raise InvalidEmail()
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    return result.normalized.lower()


def normalize_phone(raw: str, *, mobile_only: bool = False) -> str:
    raw = (raw or "").strip()
    if not raw or len(raw) > 32 or not _PHONE_CHARS.match(raw):
        raise InvalidPhone()
    try:
        number = phonenumbers.parse(raw, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhone() from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone()
    if mobile_only and phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidPhone("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_login(raw: str) -> Login:
    """Classify and normalise what a customer typed into «Логин»; raises :class:`InvalidLogin`."""
    raw = (raw or "").strip()
    if not raw or len(raw) > MAX_LOGIN_LENGTH:
        raise InvalidLogin()
    try:
        if "@" in raw:
            return Login("email", normalize_email(raw))
        return Login("phone", normalize_phone(raw))
    except BadRequest:
        raise InvalidLogin() from None


def display_phone(e164: str) -> str:
    """A phone as a Russian customer writes it: +7 916 123-45-67."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
