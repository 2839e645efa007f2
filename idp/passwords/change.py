"""«Изменение пароля»: exchange the temporary password for a permanent one that meets the rules.

Every problem is reported at once, each by its own code. The temporary password is consumed with a
conditional UPDATE, so two simultaneous submissions cannot both use it.
"""
from __future__ import annotations

import logging

from sqlalchemy import update

from idp.accounts import Account
from idp.delivery import EMAIL, SMS, dispatch_inline, enqueue
from idp.extensions import db
from idp.passwords.models import TemporaryPassword
from idp.passwords.rules import broken_rules
from idp.passwords.signin import count_wrong_try, current_temporary
from idp.services import Services

log = logging.getLogger(__name__)


def change_with_temporary(account: Account, temporary: str, new: str, confirm: str,
                          services: Services) -> list[str]:
    """Set ``new`` as the permanent password; return the codes of every problem (empty: changed)."""
    now = services.clock.now()
    errors = broken_rules(new)
    if new != confirm:
        errors.append("password.confirm_mismatch")
    temp = current_temporary(account.id)
    if not temporary:
        errors.append("password.temporary_required")
    elif temp is None or len(temporary) > 64 or not services.hasher.verify(temporary, temp.password_hash):
        errors.append("password.temporary_invalid")
        if temp is not None:
            count_wrong_try(temp, now)
    elif not temp.usable(now):
        errors.append("password.temporary_expired")
    if new and new == temporary:
        errors.append("password.same_as_temporary")
    if errors:
        return errors

    new_hash = services.hasher.hash(new)
    consumed = db.session.execute(
        update(TemporaryPassword)
        .where(TemporaryPassword.id == temp.id, TemporaryPassword.used_at.is_(None),
               TemporaryPassword.revoked_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if consumed != 1:  # used by a concurrent request a moment ago
        db.session.rollback()
        return ["password.temporary_invalid"]
    account.password_hash = new_hash
    account.password_changed_at = now
    # The temporary password reached the customer through this channel: it is theirs.
    if temp.channel == "email":
        account.email_verified = True
    else:
        account.phone_verified = True
    notices = [enqueue(services, "password_changed", channel=channel, recipient=recipient, account_id=account.id,
                       params={"login_url": services.settings.issuer + "/login"})
               for channel, recipient in ((EMAIL, account.email), (SMS, account.phone)) if recipient]
    db.session.commit()
    log.info("password changed for account %s", account.id)
    dispatch_inline(services, notices)
    return []
