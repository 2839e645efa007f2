"""Checking a login and password: the permanent password, or else the current temporary one.

Every failure costs the same two bcrypt checks and the same queries whether or not the login exists, so
neither the answer nor its timing tells a stranger which logins are registered. Attempts are counted per login and per
client address before the check; a success forgives the login and is taken back from the address, so only failures
hold an address (see :mod:`idp.throttling`).

Before any of that an attempt is admitted to a lane of password checks (:mod:`idp.passwords.admission`): the
priority lane for a browser whose device cookie is honoured for this login, the retry lane for a valid retry
ticket, else the normal lane. An attempt its lane cannot take in time is ``SHED``: refused with a retry ticket,
before anything about the login is looked up, nothing written. A success hands back the device cookie
refreshed for this login (:mod:`idp.passwords.devices`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update

from idp.accounts import Account, InvalidLogin, find_by_login, parse_login
from idp.audit import Origin, record
from idp.extensions import db
from idp.passwords import devices
from idp.passwords.admission import NORMAL, PRIORITY, RETRY
from idp.passwords.models import TemporaryPassword
from idp.passwords.rules import MAX_LENGTH
from idp.services import Services

OK = "ok"
CHANGE_REQUIRED = "change_required"
INVALID = "invalid"
THROTTLED = "throttled"
#: Refused because the password checks are over capacity (a flood): try again shortly, with the ticket.
SHED = "shed"
#: The right password of a blocked account: only someone who knows the password learns it is blocked.
BLOCKED = "blocked"


@dataclass(frozen=True)
class SignInResult:
    outcome: str
    account: Account | None = None
    retry_after: int = 0  # seconds, when THROTTLED
    #: THROTTLED by the login's ceiling (all addresses together): the customer is sent to the contact centre.
    login_ceiling: bool = False
    #: SHED: the retry ticket for the next try (the page's hidden field).
    ticket: str | None = None
    #: OK: the device cookie to set, remembering this browser for this login.
    device: str | None = None


def current_temporary(account_id: int) -> TemporaryPassword | None:
    """The newest temporary password not used or replaced (it may have expired)."""
    return db.session.execute(
        select(TemporaryPassword)
        .where(TemporaryPassword.account_id == account_id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .order_by(TemporaryPassword.id.desc()).limit(1)
    ).scalar_one_or_none()


def authenticate(raw_login: str, password: str, services: Services, origin: Origin | None = None, *,
                 device: str | None = None, ticket: str | None = None) -> SignInResult:
    """``device``: the browser's device cookie; ``ticket``: the retry ticket the form carried back."""
    origin = origin or Origin()
    now, keys = services.clock.now(), services.settings.secret_keys
    try:
        login = parse_login(raw_login)
    except InvalidLogin:
        return _fail(INVALID, now, origin, reason="login_format")
    if not password or len(password) > MAX_LENGTH:
        return _fail(INVALID, now, origin, reason="password_length")
    # Only a genuine device entry for this very login leads to a look at the account before admission; that
    # read's transaction ends before the wait, so a waiting attempt holds no database connection.
    lane, remembered = NORMAL, devices.remembered(keys, device, login.value, now)
    if remembered is not None:
        account = find_by_login(login)
        if account is not None and devices.honoured(remembered, account.subject, account.device_epoch):
            lane = PRIORITY
        db.session.commit()
    refused_at = devices.ticket_moment(keys, ticket, login.value, origin.ip, now) if lane == NORMAL else None
    if refused_at is not None:
        lane = RETRY
    with services.admission.admit(lane, refused_at, holder=login.value) as admitted:
        if not admitted:
            # A ticket shed again is handed back as it was: it is never renewed, so ten minutes after the
            # first refusal its holder is in the normal lane again, whoever keeps resubmitting it.
            return SignInResult(SHED, retry_after=services.admission.policy.retry_after,
                                ticket=ticket if lane == RETRY else devices.issue_ticket(keys, login.value,
                                                                                         origin.ip, now))
        result = _check(login, password, services, origin, now)
    if result.outcome == OK:
        return replace(result, device=devices.remember(keys, device, login.value, result.account.subject,
                                                       result.account.device_epoch, now))
    return result


def _check(login, password: str, services: Services, origin: Origin, now: datetime) -> SignInResult:
    """The throttles, then the password checks."""
    hasher = services.hasher
    verdict = services.throttler.before_sign_in(login.value, origin.ip, now)
    if not verdict.allowed:
        return _fail(THROTTLED, now, origin, retry_after=verdict.retry_after, login_ceiling=verdict.login_ceiling)
    account = find_by_login(login)
    blocked = None
    if account is not None and not account.active:
        account, blocked = None, account
    # A blocked account's password is checked all the same (the same work as for any account), so only the
    # right password is told that the account is blocked.
    if hasher.verify(password, (account or blocked).password_hash if (account or blocked) else None):
        if blocked is not None:
            return _refuse_blocked(blocked, now, origin)
        verified = account.password_hash
        # A hash in an older format (see idp.passwords.hashing) is rewritten now that the password is known:
        # bcrypt runs here, before the writes, and only for a customer who just proved the password.
        upgrade = (verified, hasher.hash(password)) if hasher.needs_upgrade(verified) else None
        return _succeed(OK, "signin.success", account, login.value, services, now, origin, upgrade=upgrade)
    # Asked for unknown logins too (of an id no account has): one query more only for known logins would
    # make their failures measurably slower (a round trip on PostgreSQL, seen by the enumeration test).
    temp = current_temporary((account or blocked).id if (account or blocked) else 0)
    if temp is not None and not temp.usable(now):
        temp = None
    if hasher.verify(password, temp.password_hash if temp else None):
        if blocked is not None:
            return _refuse_blocked(blocked, now, origin)
        return _succeed(CHANGE_REQUIRED, "signin.temporary", account, login.value, services, now, origin)
    # A wrong password here does not count against the temporary password: whoever types the login may
    # fail, and a stranger must not be able to kill the customer's temporary password. Guessing is bounded
    # by the throttles (per login at one address, per login, per address) and the password's 24 hours.
    # The account id is recorded for admins; the customer's answer is the same either way.
    return _fail(INVALID, now, origin, account_id=account.id if account else None, reason="credentials")


def _succeed(outcome: str, event: str, account: Account, login_value: str, services: Services, now: datetime,
             origin: Origin, *, upgrade: tuple[str, str] | None = None) -> SignInResult:
    services.throttler.signed_in(login_value, origin.ip)
    if upgrade is not None:
        verified, rehashed = upgrade
        # Only if the stored hash is still the one just verified: a password changed meanwhile stays changed.
        db.session.execute(update(Account).where(Account.id == account.id, Account.password_hash == verified)
                           .values(password_hash=rehashed).execution_options(synchronize_session=False))
    record(event, at=now, origin=origin, account_id=account.id)
    db.session.commit()
    return SignInResult(outcome, account)


def _refuse_blocked(account: Account, now: datetime, origin: Origin) -> SignInResult:
    record("signin.blocked", at=now, origin=origin, account_id=account.id)
    db.session.commit()
    return SignInResult(BLOCKED)


def _fail(outcome: str, now: datetime, origin: Origin, *, account_id: int | None = None, retry_after: int = 0,
          login_ceiling: bool = False, **details) -> SignInResult:
    if outcome == THROTTLED:
        record("signin.throttled", at=now, origin=origin, retry_after=retry_after,
               **({"counter": "login"} if login_ceiling else {}))
    else:
        record("signin.failure", at=now, origin=origin, account_id=account_id, **details)
    db.session.commit()
    return SignInResult(outcome, retry_after=retry_after, login_ceiling=login_ceiling)
