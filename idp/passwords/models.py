"""Temporary passwords: issued by «Забыли пароль?», stored only as hashes, single use, expiring."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db


#: A temporary password dies after this many wrong tries on «Изменение пароля» (only the customer reaches that
#: page with it; wrong passwords at sign-in are bounded by the throttles, not by killing it).
MAX_FAILED_ATTEMPTS = 5


class TemporaryPassword(db.Model):
    __tablename__ = "temporary_passwords"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True,
                                            nullable=False)
    password_hash: Mapped[str] = mapped_column(String(100), nullable=False)
    #: "email" or "sms": where it was sent, so its use proves that channel belongs to the customer.
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: Set when it was exchanged for a permanent password.
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Wrong «Временный пароль» typed on «Изменение пароля»; at MAX_FAILED_ATTEMPTS it dies.
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Set when a newer request replaced it, or after too many wrong tries.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    def usable(self, now: datetime) -> bool:
        """Live until its expiry instant (exclusive), unless used or replaced."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


class ResetRequest(db.Model):
    """A «Забыли пароль?» request waiting to be turned into a temporary password (see
    :mod:`idp.passwords.reset`). Written for any login, known or not; deleted when issued."""

    __tablename__ = "reset_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The login and the request's origin, sealed like outbox payloads (:mod:`idp.delivery.sealing`).
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: Set by the worker that claimed it, until when it holds it: the temporary password is hashed by that
    #: worker alone, and a request whose worker died is taken by another after this instant.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
