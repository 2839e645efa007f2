"""A policy as the policy system sends it: parsed, checked and normalised into :class:`PolicyInput`.

Every problem of the input is collected, each with the field it concerns and a stable code, so the REST
endpoint answers one clear 400 and the CSV import reports one clear refused row. A missing or malformed
e-mail or phone is *not* an input error: such a policy is valid and stored, and eligibility holds it
until corrected data arrives (see :mod:`idp.policies.eligibility`).

The document (JSON; the CSV import builds the same from its columns)::

    {"number": "LF-2026-000123", "kind": "individual", "product": "life", "status": "active",
     "start_date": "2026-01-15", "end_date": "2027-01-14",
     "person": {"full_name": "Иванов Иван Иванович", "birth_date": "1980-05-17",
                "email": "ivan@example.com", "phone": "+7 916 123-45-67"},
     "employer": {"name": "ООО «Ромашка»", "includes_account": true}}     # corporate policies only
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date

from idp.errors import BadRequest

#: individual: the policyholder's own contract; corporate: through the employer; credit: sold with a loan.
KINDS = ("individual", "corporate", "credit")
#: Life, accident/illness, voluntary medical insurance (ДМС).
PRODUCTS = ("life", "accident_illness", "dms")
#: Only an ``active`` policy creates an account; any status may attach to an existing one.
STATUSES = ("active", "expired", "terminated", "cancelled")
IN_FORCE = "active"

_NUMBER = re.compile(r"^[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё./_-]{0,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LETTER = re.compile(r"[^\W\d_]")
#: Nobody insured today was born before this; an earlier date is a typing error.
EARLIEST_BIRTH = date(1900, 1, 1)
MAX_NAME = 300
MAX_CONTACT = 254
MAX_EMPLOYER = 300

TOP_FIELDS = ("number", "kind", "product", "status", "start_date", "end_date", "person", "employer")
PERSON_FIELDS = ("full_name", "birth_date", "email", "phone")
EMPLOYER_FIELDS = ("name", "includes_account")


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "description": self.message}


class InvalidPolicy(BadRequest):
    """The document cannot be a policy; ``problems`` lists every reason, the first one gives ``code``."""

    code = "policy.invalid"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems), code=problems[0].code)


@dataclass(frozen=True)
class PolicyInput:
    """A checked policy. Contacts are kept as sent (stripped): eligibility judges them, admins see them."""

    number: str
    kind: str
    product: str
    status: str
    start_date: date
    end_date: date
    full_name: str
    birth_date: date
    email: str | None
    phone: str | None
    employer: str | None = None
    includes_account: bool | None = None

    def fingerprint(self) -> str:
        """SHA-256 of the content: the same policy sent again is recognised and changes nothing."""
        data = {key: (value.isoformat() if isinstance(value, date) else value)
                for key, value in asdict(self).items()}
        text = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def name_key(full_name: str) -> str:
    """A name as identity compares it: case, «ё»/«е», spacing and Unicode form do not matter."""
    text = unicodedata.normalize("NFC", full_name).casefold().replace("ё", "е")
    return " ".join(text.split())


def parse_policy(document, *, today: date) -> PolicyInput:
    """Check and normalise a policy document; raises :class:`InvalidPolicy` listing every problem."""
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise InvalidPolicy([Problem("", "policy.not_an_object", "the policy must be a JSON object")])
    _unknown(document, TOP_FIELDS, "", problems)

    number = _text(document, "number", problems, limit=64)
    if number is not None and not _NUMBER.match(number):
        problems.append(Problem("number", "policy.invalid_number",
                                "letters, digits and . / _ - only, starting with a letter or digit, ≤ 64"))
    kind = _choice(document, "kind", KINDS, problems)
    product = _choice(document, "product", PRODUCTS, problems)
    status = _choice(document, "status", STATUSES, problems)
    start = _date(document, "start_date", problems)
    end = _date(document, "end_date", problems)
    if start and end and end < start:
        problems.append(Problem("end_date", "policy.dates_out_of_order",
                                "the end date is before the start date"))

    person = _object(document, "person", problems, required=True) or {}
    _unknown(person, PERSON_FIELDS, "person.", problems)
    full_name = _text(person, "full_name", problems, prefix="person.", limit=MAX_NAME, printable=True)
    if full_name is not None and not _LETTER.search(full_name):
        problems.append(Problem("person.full_name", "policy.invalid_name", "a full name made of letters"))
    birth = _date(person, "birth_date", problems, prefix="person.")
    if birth and not EARLIEST_BIRTH <= birth <= today:
        problems.append(Problem("person.birth_date", "policy.invalid_birth_date",
                                f"must lie between {EARLIEST_BIRTH.isoformat()} and today"))
    email = _text(person, "email", problems, prefix="person.", limit=MAX_CONTACT, required=False)
    phone = _text(person, "phone", problems, prefix="person.", limit=MAX_CONTACT, required=False)

    employer_name = includes = None
    if "employer" in document and document["employer"] is None:
        # Present but null: no policy has an employer of null; the field is omitted or an object.
        employer = None
        problems.append(Problem("employer", "policy.employer_null",
                                "null is not an employer: omit the field, or (corporate policies only) send "
                                "an object with name and includes_account"))
    else:
        employer = _object(document, "employer", problems, required=kind == "corporate")
    if employer is not None:
        _unknown(employer, EMPLOYER_FIELDS, "employer.", problems)
        if kind == "corporate":
            employer_name = _text(employer, "name", problems, prefix="employer.", limit=MAX_EMPLOYER,
                                  printable=True)
            includes = employer.get("includes_account")
            if not isinstance(includes, bool):
                code = "policy.missing_field" if includes is None else "policy.invalid_field"
                problems.append(Problem("employer.includes_account", code,
                                        "true or false: does the corporate contract include the account"))
        elif kind is not None:
            problems.append(Problem("employer", "policy.field_not_allowed",
                                    "only corporate policies have an employer"))

    if problems:
        raise InvalidPolicy(problems)
    return PolicyInput(number=number, kind=kind, product=product, status=status, start_date=start,
                       end_date=end, full_name=" ".join(full_name.split()), birth_date=birth, email=email,
                       phone=phone, employer=employer_name, includes_account=includes)


def _unknown(document: Mapping, known: tuple[str, ...], prefix: str, problems: list[Problem]) -> None:
    for key in document:
        if key not in known:
            shown = str(key)[:40]
            problems.append(Problem(prefix + shown, "policy.unknown_field", f"unknown field {shown!r}"))


def _text(document: Mapping, name: str, problems: list[Problem], *, prefix: str = "", limit: int,
          required: bool = True, printable: bool = False) -> str | None:
    """The field as a stripped string, or ``None`` with its problem: missing, not a string, too long, a NUL
    (never storable; with ``printable``, any control character), not valid Unicode — each its own message."""
    value = document.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(prefix + name, "policy.missing_field", "required"))
        return None
    if not isinstance(value, str):
        problems.append(Problem(prefix + name, "policy.invalid_field", "must be a string"))
        return None
    if len(value) > limit:  # as sent, white space around it included (what the document's maxLength counts)
        problems.append(Problem(prefix + name, "policy.invalid_field", f"at most {limit} characters"))
        return None
    value = value.strip()
    if "\x00" in value:
        problems.append(Problem(prefix + name, "policy.control_character", "must not contain NUL (\\u0000)"))
        return None
    if printable and _has_control(value):
        problems.append(Problem(prefix + name, "policy.control_character",
                                "must not contain control characters (tab, line breaks and the like)"))
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) decodes from JSON but can never be stored
        problems.append(Problem(prefix + name, "policy.invalid_field", "not valid Unicode text"))
        return None
    return value


def _choice(document: Mapping, name: str, allowed: tuple[str, ...], problems: list[Problem]) -> str | None:
    value = _text(document, name, problems, limit=40)
    if value is None:
        return None
    if value not in allowed:
        problems.append(Problem(name, f"policy.invalid_{name}",
                                f"one of {', '.join(allowed)}; got {value!r}"))
        return None
    return value


def _date(document: Mapping, name: str, problems: list[Problem], *, prefix: str = "") -> date | None:
    value = _text(document, name, problems, prefix=prefix, limit=10)
    if value is None:
        return None
    try:
        if not _ISO_DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        problems.append(Problem(prefix + name, "policy.invalid_date", f"a date as YYYY-MM-DD; got {value!r}"))
        return None


def _object(document: Mapping, name: str, problems: list[Problem], *, required: bool) -> Mapping | None:
    value = document.get(name)
    if value is None:
        if required:
            problems.append(Problem(name, "policy.missing_field", "required"))
        return None
    if not isinstance(value, Mapping):
        problems.append(Problem(name, "policy.invalid_field", "must be an object"))
        return None
    return value


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)
