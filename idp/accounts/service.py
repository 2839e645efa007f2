"""Creating, finding and describing accounts. Plain functions: the caller owns the transaction."""
from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import select

from idp.accounts.logins import Login, normalize_email, normalize_phone, parse_login
from idp.accounts.models import Account
from idp.audit import record
from idp.errors import BadRequest, Conflict, NotFound
from idp.extensions import db


class AccountExists(Conflict):
    code = "account.exists"


class AccountNotFound(NotFound):
    code = "account.not_found"


#: The longest full name an account keeps (the column's size).
MAX_NAME = 300


def create_account(*, email: str | None = None, phone: str | None = None, full_name: str | None = None,
                   now: datetime, is_admin: bool = False) -> Account:
    """Add a new account (flushed, not committed); at least one of e-mail and mobile phone is required."""
    email = normalize_email(email) if email else None
    phone = normalize_phone(phone, mobile_only=True) if phone else None
    if not email and not phone:
        raise BadRequest("an account needs an e-mail or a mobile phone", code="account.no_contact")
    for login in filter(None, [Login("email", email) if email else None, Login("phone", phone) if phone else None]):
        if find_by_login(login) is not None:
            raise AccountExists(f"an account with this {login.kind} exists")
    account = Account(email=email, phone=phone, full_name=full_name, created_at=now, is_admin=is_admin)
    db.session.add(account)
    db.session.flush()
    record("account.created", at=now, account_id=account.id)
    return account


def update_account(account: Account, *, email: str | None = None, phone: str | None = None,
                   full_name: str | None = None) -> list[str]:
    """Change the given fields of ``account`` (flushed, not committed); the names of those that changed.

    Checked as in :func:`create_account`; an e-mail or phone that is another account's login is refused
    (``account.email_taken``, ``account.phone_taken``), never taken from it. A new contact is unverified.
    """
    email = normalize_email(email) if email is not None else None
    phone = normalize_phone(phone, mobile_only=True) if phone is not None else None
    if full_name is not None:
        full_name = " ".join(full_name.split())
        if (not full_name or len(full_name) > MAX_NAME or not any(ch.isalpha() for ch in full_name)
                or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in full_name)):
            raise BadRequest(f"a full name made of letters, at most {MAX_NAME} characters",
                             code="account.invalid_name")
    for kind, value in (("email", email), ("phone", phone)):
        if value is not None and value != getattr(account, kind):
            holder = find_by_login(Login(kind, value))
            if holder is not None and holder.id != account.id:
                raise AccountExists(f"this {kind} is the login of another account",
                                    code=f"account.{kind}_taken")
    changed = []
    if email is not None and email != account.email:
        account.email, account.email_verified = email, False
        changed.append("email")
    if phone is not None and phone != account.phone:
        account.phone, account.phone_verified = phone, False
        changed.append("phone")
    if full_name is not None and full_name != account.full_name:
        account.full_name = full_name
        changed.append("full_name")
    db.session.flush()
    return changed


def find_by_login(login: Login) -> Account | None:
    column = Account.email if login.is_email else Account.phone
    return db.session.execute(select(Account).where(column == login.value)).scalar_one_or_none()


def get_by_login(raw: str) -> Account:
    """The account for what an operator typed; raises :class:`AccountNotFound` or ``InvalidLogin``."""
    account = find_by_login(parse_login(raw))
    if account is None:
        raise AccountNotFound()
    return account


def describe(account: Account) -> dict:
    """The operator's view of an account (``--json``): never a hash or a secret."""
    return {
        "id": account.id,
        "subject": account.subject,
        "email": account.email,
        "email_verified": account.email_verified,
        "phone": account.phone,
        "phone_verified": account.phone_verified,
        "full_name": account.full_name,
        "has_password": account.password_hash is not None,
        "password_changed_at": _iso(account.password_changed_at),
        "is_admin": account.is_admin,
        "active": account.active,
        "created_at": _iso(account.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None
