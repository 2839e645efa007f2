"""«Забыли пароль?»: issue a temporary password and send it to the channel of the login typed.

The answer is the same for known and unknown logins (the caller shows where the password *would* go by
the kind of login), and the same work is done either way: a password is drawn and hashed. The new
temporary password and its message are written in one transaction (the outbox), so neither exists
without the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update

from idp.accounts import find_by_login, parse_login
from idp.accounts.logins import Login
from idp.audit import Origin, record
from idp.delivery import EMAIL, SMS, channel_backlogged, dispatch_inline, enqueue, supersede
from idp.extensions import db
from idp.passwords import temporary
from idp.passwords.models import TemporaryPassword
from idp.services import Services


@dataclass(frozen=True)
class ResetResult:
    login: Login
    #: False when messages on the login's channel are waiting for a retry (the transport is failing): the
    #: customer is told it may take a while. A fact about the channel, the same for known and unknown logins.
    delivered: bool = True


def request_temporary_password(raw_login: str, services: Services, origin: Origin | None = None) -> ResetResult:
    """Issue and queue a temporary password for ``raw_login``; raises ``InvalidLogin`` for garbage.

    Past the per-login or per-address limits nothing is sent, and the answer is the same as always.
    """
    login = parse_login(raw_login)
    origin = origin or Origin()
    now = services.clock.now()
    allowed = services.throttler.before_reset(login.value, origin.ip, now)
    password = temporary.generate()
    password_hash = services.hasher.hash(password)  # done for unknown logins too: same time either way
    account = find_by_login(login) if allowed else None
    found = account is not None and account.active
    channel = EMAIL if login.is_email else SMS
    record("reset.requested" if allowed else "reset.limited", at=now, origin=origin,
           account_id=account.id if found else None, kind=login.kind)
    if not found:
        db.session.commit()
        return ResetResult(login, delivered=not channel_backlogged(channel))

    # A newer request replaces any older temporary password; the permanent one is left alone, so a
    # stranger typing someone's login cannot lock them out.
    db.session.execute(
        update(TemporaryPassword)
        .where(TemporaryPassword.account_id == account.id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    supersede(account.id, "temporary_password")  # an older password's message, if still unsent, never goes
    db.session.add(TemporaryPassword(account_id=account.id, password_hash=password_hash, channel=channel,
                                     created_at=now,
                                     expires_at=now + timedelta(seconds=services.settings.temp_password_ttl)))
    delivery = enqueue(services, "temporary_password", channel=channel, recipient=login.value,
                       account_id=account.id,
                       params={"password": password, "login_url": services.settings.issuer + "/login"})
    record("temporary.issued", at=now, origin=origin, account_id=account.id, channel=channel)
    db.session.commit()
    dispatch_inline(services, [delivery])
    # Not this message's own fate: that would tell a stranger the login exists (only known logins have one).
    return ResetResult(login, delivered=not channel_backlogged(channel))
