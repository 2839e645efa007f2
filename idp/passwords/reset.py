"""«Забыли пароль?»: issue a temporary password and send it to the channel of the login typed.

The answer is the same for known and unknown logins (the caller shows where the password *would* go by
the kind of login), and the same work is done either way: a password is drawn and hashed.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update

from idp.accounts import find_by_login, parse_login
from idp.accounts.logins import Login
from idp.delivery import EMAIL, SMS, DeliveryError, record_failure, send_now
from idp.errors import DeliveryFailed
from idp.extensions import db
from idp.passwords import temporary
from idp.passwords.models import TemporaryPassword
from idp.services import Services

log = logging.getLogger(__name__)


def request_temporary_password(raw_login: str, services: Services) -> Login:
    """Issue and send a temporary password for ``raw_login``; return the parsed login.

    Raises ``InvalidLogin`` for input that is no e-mail or phone, and :class:`DeliveryFailed` when the
    transport refused, in which case nothing about the account changed.
    """
    login = parse_login(raw_login)
    now = services.clock.now()
    password = temporary.generate()
    password_hash = services.hasher.hash(password)  # done for unknown logins too: same time either way
    account = find_by_login(login)
    if account is None or not account.active:
        return login

    channel = EMAIL if login.is_email else SMS
    # A newer request replaces any older temporary password; the permanent one is left alone, so a
    # stranger typing someone's login cannot lock them out.
    db.session.execute(
        update(TemporaryPassword)
        .where(TemporaryPassword.account_id == account.id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    db.session.add(TemporaryPassword(account_id=account.id, password_hash=password_hash, channel=channel,
                                     created_at=now,
                                     expires_at=now + timedelta(seconds=services.settings.temp_password_ttl)))
    message = services.renderer.render(
        "temporary_password", channel=channel, recipient=login.value, secrets=(password,),
        params={"password": password, "login_url": services.settings.issuer + "/login"},
    )
    try:
        send_now(services.courier, message, account_id=account.id, now=now)
    except DeliveryError as exc:
        db.session.rollback()
        record_failure(message, exc, account_id=account.id, now=now)
        raise DeliveryFailed() from None
    db.session.commit()
    log.info("temporary password issued for account %s via %s", account.id, channel)
    return login
