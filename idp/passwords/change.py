"""«Изменение пароля»: exchange the temporary password for a permanent one that meets the rules.

Every problem is reported at once, each by its own code. The temporary password is consumed with a
conditional UPDATE, so two simultaneous submissions cannot both use it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import case, update

from idp.accounts import Account
from idp.audit import Origin, record
from idp.sessions import EndedSession, end_account_sessions
from idp.delivery import EMAIL, SMS, Delivery, dispatch_inline, enqueue
from idp.delivery.receipts import clear_undeliverable
from idp.extensions import db
from idp.passwords.models import MAX_FAILED_ATTEMPTS, TemporaryPassword
from idp.passwords.rules import broken_rules
from idp.passwords.signin import current_temporary
from idp.services import Services

class RevokeTokens(Protocol):
    """Ends what the account's ended sessions gave out, in the caller's transaction: revokes every token of the
    account and queues a back-channel logout token for each relying party of those sessions. Returns how many
    grants it revoked and the outbox rows to send once committed.

    The OpenID Connect layer's ``idp.oidc.backchannel.end_account_grants``, passed in by the caller (the
    page): that layer builds on this one, so this one does not import it."""

    def __call__(self, account_id: int, ended: list[EndedSession], *, now: datetime) -> tuple[int, list[Delivery]]:
        ...


def count_wrong_try(temp: TemporaryPassword, now: datetime) -> None:
    """One more wrong «Временный пароль» on «Изменение пароля»; the MAX_FAILED_ATTEMPTS-th kills it (one atomic
    statement). Only here: this page is reached by signing in with that very password, so the tries are the
    customer's own — a wrong password at sign-in, which anyone may type, never counts against it."""
    tries = TemporaryPassword.failed_attempts + 1
    db.session.execute(update(TemporaryPassword).where(TemporaryPassword.id == temp.id).values(
        failed_attempts=tries,
        revoked_at=case((tries >= MAX_FAILED_ATTEMPTS, now), else_=TemporaryPassword.revoked_at)))
    db.session.refresh(temp)
    if temp.revoked_at is not None and temp.failed_attempts == MAX_FAILED_ATTEMPTS:
        record("temporary.killed", at=now, account_id=temp.account_id)
    db.session.commit()


def change_with_temporary(account: Account, temporary: str, new: str, confirm: str,
                          services: Services, origin: Origin | None = None, *,
                          revoke_tokens: RevokeTokens) -> list[str]:
    """Set ``new`` as the permanent password; return the codes of every problem (empty: changed).

    On success every other session of the account ends and ``revoke_tokens(account_id, ended, now=…)``
    revokes its tokens and queues the relying parties' logout tokens (see :func:`revoke_everything`), and a notice goes to every channel the customer has.
    """
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
    # The temporary password reached the customer through this channel: it is theirs, and it takes messages,
    # whatever a delivery receipt said of it before (idp.delivery.receipts).
    if temp.channel == "email":
        account.email_verified = True
        if account.email:
            clear_undeliverable(account.email, now, account_id=account.id, via="customer", origin=origin)
    else:
        account.phone_verified = True
    logouts = revoke_everything(account.id, now=now, origin=origin, revoke_tokens=revoke_tokens)
    record("password.changed", at=now, origin=origin, account_id=account.id, via="temporary")
    notices = [enqueue(services, "password_changed", channel=channel, recipient=recipient, account_id=account.id,
                       params={"login_url": services.settings.issuer + "/login"})
               for channel, recipient in ((EMAIL, account.email), (SMS, account.phone)) if recipient]
    db.session.commit()
    dispatch_inline(services, notices + logouts)
    return []


def revoke_everything(account_id: int, *, now: datetime, origin: Origin | None = None,
                      revoke_tokens: RevokeTokens) -> list[Delivery]:
    """After a password change: end the account's sessions and revoke its tokens (caller's transaction);
    returns the back-channel logout tokens queued for the relying parties of the ended sessions."""
    ended = end_account_sessions(account_id, now=now)
    revoked, logouts = revoke_tokens(account_id, ended, now=now)
    record("sessions.revoked", at=now, origin=origin, account_id=account_id, sessions=len(ended), grants=revoked)
    return logouts
