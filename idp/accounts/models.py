"""The customer's account: who they are to the provider, and how they sign in."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db


def new_subject() -> str:
    """The OIDC ``sub``: random, opaque and stable; never derived from the e-mail or phone."""
    return secrets.token_hex(16)


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), unique=True, nullable=False, default=new_subject)
    #: Normalised (lower-case) address; a login and the e-mail channel.
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    #: E.164; a login and the SMS channel.
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    phone_verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    full_name: Mapped[str | None] = mapped_column(String(300))
    #: bcrypt over SHA-256 of the permanent password; empty until the customer sets one.
    password_hash: Mapped[str | None] = mapped_column(String(100))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: The contact centre's role: find and view accounts, and help (never clients or policy casework).
    is_support: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: Moves on whenever all the account's sessions end (sign out everywhere, blocking, a password change):
    #: device cookies made before it are no longer honoured (:mod:`idp.passwords.devices`).
    device_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    @property
    def login(self) -> str:
        """The login to show: the e-mail if there is one, else the phone."""
        return self.email or self.phone or ""

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def __repr__(self) -> str:  # never prints contact details into logs by accident
        return f"<Account {self.id}>"


class OperatorAction(db.Model):
    """One action an operator took on an account (support or admin: a temporary password sent, a lockout
    lifted, blocked…), keyed by the token of the form or request that asked for it, so a double submit does it
    once. The audit trail has the action with its reason; this row only makes it idempotent."""

    __tablename__ = "operator_actions"

    #: The form's one-time token (or the API's ``Idempotency-Key``).
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
