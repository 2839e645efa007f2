"""Policies as the policy system sent them, with the decision taken on each; and whose an account is.

A :class:`Policy` row exists for every policy number ever received, eligible or not: ``state`` says
what became of it (attached to an account, held for data or an admin, refused by rule) and ``reason``
why, by a stable code from :data:`idp.policies.eligibility.REASONS`. An :class:`AccountPerson` records
the person an account belongs to, so a contact arriving for somebody else is never merged into it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db

ATTACHED = "attached"  # shown in the customer's account (and in the ``policies`` claim)
HELD = "held"  # waiting for corrected data or an admin
REFUSED = "refused"  # the contract gives no account (credit-linked, corporate without it, not in force)
STATES = (ATTACHED, HELD, REFUSED)


class Policy(db.Model):
    __tablename__ = "policies"
    # A new account looks for held policies with its e-mail or phone: these make that one look-up each.
    __table_args__ = (Index("ix_policies_email_key_state", "email_key", "state"),
                      Index("ix_policies_phone_key_state", "phone_key", "state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The policy system's number: the key of idempotent intake.
    number: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    product: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date] = mapped_column(Date, nullable=False)
    #: The policyholder (individual) or the insured person (corporate), as sent.
    full_name: Mapped[str] = mapped_column(String(300), nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    #: Contacts as sent (stripped), valid or not: an admin sees what arrived.
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(254))
    #: Normalised contacts when valid: a new account looks here for policies waiting for it.
    email_key: Mapped[str | None] = mapped_column(String(254))
    phone_key: Mapped[str | None] = mapped_column(String(20))
    employer: Mapped[str | None] = mapped_column(String(300))
    includes_account: Mapped[bool | None] = mapped_column(Boolean)
    #: SHA-256 of the content last received: the same policy again is a no-op.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    reason: Mapped[str | None] = mapped_column(String(64))
    #: For an admin: which accounts a held policy collides with, and why.
    detail: Mapped[str | None] = mapped_column(String(500))
    #: Codes of what an attached policy did not change (``email_not_replaced``, …).
    notes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    #: ``api``, ``cli`` or ``import``: how the last version arrived.
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)

    def __repr__(self) -> str:
        return f"<Policy {self.number} {self.state}>"


class AccountPerson(db.Model):
    """The person an account belongs to: what makes an e-mail or phone *their own*."""

    __tablename__ = "account_persons"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    #: Normalised full name (:func:`idp.policies.facts.name_key`).
    name_key: Mapped[str] = mapped_column(String(300), nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
