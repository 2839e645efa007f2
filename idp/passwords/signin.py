"""Checking a login and password: the permanent password, or else the current temporary one.

Every failure costs the same two bcrypt checks whether or not the login exists, so neither the answer
nor its timing tells a stranger which logins are registered. Attempts are counted per login and per
client address before the check (see :mod:`idp.throttling`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select, update

from idp.accounts import Account, InvalidLogin, find_by_login, parse_login
from idp.extensions import db
from idp.passwords.models import MAX_FAILED_ATTEMPTS, TemporaryPassword
from idp.passwords.rules import MAX_LENGTH
from idp.services import Services

OK = "ok"
CHANGE_REQUIRED = "change_required"
INVALID = "invalid"
THROTTLED = "throttled"


@dataclass(frozen=True)
class SignInResult:
    outcome: str
    account: Account | None = None
    retry_after: int = 0  # seconds, when THROTTLED


def current_temporary(account_id: int) -> TemporaryPassword | None:
    """The newest temporary password not used or replaced (it may have expired)."""
    return db.session.execute(
        select(TemporaryPassword)
        .where(TemporaryPassword.account_id == account_id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .order_by(TemporaryPassword.id.desc()).limit(1)
    ).scalar_one_or_none()


def count_wrong_try(temp: TemporaryPassword, now: datetime) -> None:
    """One more wrong try against ``temp``; the MAX_FAILED_ATTEMPTS-th kills it (one atomic statement)."""
    tries = TemporaryPassword.failed_attempts + 1
    db.session.execute(update(TemporaryPassword).where(TemporaryPassword.id == temp.id).values(
        failed_attempts=tries,
        revoked_at=case((tries >= MAX_FAILED_ATTEMPTS, now), else_=TemporaryPassword.revoked_at)))
    db.session.commit()


def authenticate(raw_login: str, password: str, services: Services, address: str | None = None) -> SignInResult:
    try:
        login = parse_login(raw_login)
    except InvalidLogin:
        return SignInResult(INVALID)
    if not password or len(password) > MAX_LENGTH:
        return SignInResult(INVALID)
    hasher, now = services.hasher, services.clock.now()
    verdict = services.throttler.before_sign_in(login.value, address, now)
    if not verdict.allowed:
        return SignInResult(THROTTLED, retry_after=verdict.retry_after)
    account = find_by_login(login)
    if account is not None and not account.active:
        account = None
    if hasher.verify(password, account.password_hash if account else None):
        services.throttler.signed_in(login.value)
        return SignInResult(OK, account)
    temp = current_temporary(account.id) if account else None
    if temp is not None and not temp.usable(now):
        temp = None
    if hasher.verify(password, temp.password_hash if temp else None):
        services.throttler.signed_in(login.value)
        return SignInResult(CHANGE_REQUIRED, account)
    if temp is not None:
        count_wrong_try(temp, now)
    return SignInResult(INVALID)
