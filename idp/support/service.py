"""Finding a customer's account for an operator (contact centre or admin): one set of rules behind the admin
web area, the admin REST API and ``idp support``.

    resolve_account(ref) -> Account          # exactly one: a login, a policy number or a ``sub``
    find_accounts(query, birth_date=…)       # a list (maybe empty); a name needs a birth date
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from idp.accounts import Account, InvalidLogin, parse_login
from idp.accounts.logins import MAX_LOGIN_LENGTH, normalize_phone
from idp.audit import Origin
from idp.errors import BadRequest, NotFound
from idp.extensions import db
from idp.policies.facts import name_key
from idp.policies.models import AccountPerson, Policy

VIA = ("web", "api", "cli")
#: Longest query looked at (a login is at most 254 characters, a name 300).
MAX_QUERY = 300
#: Most accounts one search returns.
MAX_RESULTS = 100
_SUB = re.compile(r"^[0-9a-f]{32}$")
_PHONE_LIKE = re.compile(r"^[0-9+()\-.\s]+$")
_POLICY_NUMBER = re.compile(r"^[0-9A-Za-zА-Яа-яЁё][0-9A-Za-zА-Яа-яЁё./_-]{0,63}$")


class AccountNotFound(NotFound):
    code = "support.not_found"


class InvalidQuery(BadRequest):
    code = "support.query.invalid"


@dataclass(frozen=True)
class Operator:
    """Who acts on a customer's account: an operator signed in to the admin area (``web``), an API client
    (``api``: ``login`` is the client's id) or a person at the CLI (``cli``: ``login`` is ``cli:<OS user>``)."""

    login: str
    via: str
    origin: Origin = field(default_factory=Origin)
    account_id: int | None = None
    client_id: str | None = None

    def __post_init__(self):
        if self.via not in VIA:
            raise ValueError(f"via must be one of {VIA}, not {self.via!r}")
        if not self.login:
            raise ValueError("an operator has a login")

    def details(self) -> dict:
        """What the audit says about the operator (with the event's own details)."""
        details = {"operator": self.login, "via": self.via}
        if self.account_id is not None:
            details["operator_account_id"] = self.account_id
        if self.client_id is not None:
            details["operator_client_id"] = self.client_id
        return details


def _clean(query: str | None) -> str:
    text = unicodedata.normalize("NFC", query or "").strip()
    if not text:
        raise InvalidQuery("type an e-mail, a phone, a policy number, a sub or a name", code="support.query.empty")
    if len(text) > MAX_QUERY or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise InvalidQuery(f"a query of at most {MAX_QUERY} characters, without control characters")
    return text


def _by_sub(text: str) -> Account | None:
    if not _SUB.match(text.lower()):
        return None
    return db.session.execute(select(Account).where(Account.subject == text.lower())).scalar_one_or_none()


def _by_policy(text: str) -> Account | None:
    if not _POLICY_NUMBER.match(text):
        return None
    account_id = db.session.execute(select(Policy.account_id).where(Policy.number == text)).scalar_one_or_none()
    return db.session.get(Account, account_id) if account_id is not None else None


def _by_login(text: str) -> tuple[Account | None, bool]:
    """(account, was it a login at all). A malformed e-mail or phone raises :class:`InvalidQuery`."""
    if "@" in text:
        if len(text) > MAX_LOGIN_LENGTH:
            raise InvalidQuery("this is not a valid e-mail address")
        try:
            login = parse_login(text)
        except InvalidLogin:
            raise InvalidQuery("this is not a valid e-mail address", code="support.query.invalid_email") from None
    elif _PHONE_LIKE.match(text) and sum(ch.isdigit() for ch in text) >= 5:
        try:
            phone = normalize_phone(text)
        except BadRequest:
            raise InvalidQuery("this is not a valid phone number: type it as +7 916 123-45-67 or "
                               "8 (916) 123-45-67", code="support.query.invalid_phone") from None
        login = parse_login(phone)
    else:
        return None, False
    column = Account.email if login.is_email else Account.phone
    return db.session.execute(select(Account).where(column == login.value)).scalar_one_or_none(), True


def _exact(text: str) -> Account | None:
    """A sub, then a policy number (a number may look like a phone), then a login."""
    account = _by_sub(text) or _by_policy(text)
    if account is not None or _SUB.match(text.lower()):
        return account
    account, _ = _by_login(text)
    return account


def resolve_account(ref: str) -> Account:
    """The one account ``ref`` names: any login (an e-mail, a phone in any usual writing), a policy number
    or a ``sub``. Raises :class:`AccountNotFound` or :class:`InvalidQuery` (a malformed e-mail or phone)."""
    account = _exact(_clean(ref))
    if account is None:
        raise AccountNotFound("no account for this login, policy number or sub")
    return account


def _looks_like_name(text: str) -> bool:
    return any(ch.isalpha() for ch in text) and all(ch.isalpha() or ch in " -'.’" for ch in text)


def _by_name(text: str, birth_date: date, limit: int) -> list[Account]:
    wanted = name_key(text).replace(".", "").split()
    found: dict[int, Account] = {}

    def matches(name: str | None) -> bool:
        if not name:
            return False
        words = name_key(name).replace(".", "").split()
        return all(word in words for word in wanted)

    persons = db.session.execute(select(AccountPerson.account_id, AccountPerson.name_key)
                                 .where(AccountPerson.birth_date == birth_date)).all()
    policies = db.session.execute(select(Policy.account_id, Policy.full_name)
                                  .where(Policy.birth_date == birth_date, Policy.account_id.is_not(None))).all()
    ids = sorted({account_id for account_id, name in [*persons, *policies] if matches(name)})
    for account_id in ids[:limit]:
        account = db.session.get(Account, account_id)
        if account is not None:
            found[account.id] = account
    return list(found.values())


def find_accounts(query: str, *, birth_date: date | None = None, limit: int = 20) -> list[Account]:
    """Accounts matching ``query``: an e-mail, a phone (any usual writing), a policy number, a ``sub`` — or a
    name (case, «ё»/«е» and word order do not matter) *with* ``birth_date``. A name alone is refused
    (``support.query.too_broad``): it would list strangers. Nothing found is ``[]``."""
    text = _clean(query)
    limit = max(1, min(int(limit), MAX_RESULTS))
    account = _exact(text)
    if account is not None:
        return [account]
    if _looks_like_name(text):
        if birth_date is None:
            raise InvalidQuery("a name alone is too broad: give the birth date too, or search by e-mail, phone, "
                               "policy number or sub", code="support.query.too_broad")
        return _by_name(text, birth_date, limit)
    return []
