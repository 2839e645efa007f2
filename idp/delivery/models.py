"""The outbox: one row per message, written in the same transaction as the change that caused it.

A dispatcher sends queued rows later (or at once, in-process). The row holds the purpose, channel,
recipient and the message parameters sealed (:mod:`idp.delivery.sealing`); the parameters are erased
once the message is sent, so a temporary password is never kept readable after its message went out.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db

QUEUED = "queued"  # waiting for its first or next attempt
SENDING = "sending"  # claimed by a dispatcher; if it stays so past its lease, the outcome is unknown
SENT = "sent"  # handed to the provider, which gave its message id
DEAD = "dead"  # gave up after the last attempt, refused for good, or outcome unknown: an admin may re-queue it
#: Never sent because a newer message replaced it (an older temporary password, revoked by a newer request),
#: or because the temporary password in it expired before it could be sent (``idp purge``).
SUPERSEDED = "superseded"
#: What the provider reported after the hand-off (a delivery receipt): it reached the recipient; it bounced
#: (``outcome_detail`` says hard or soft); the recipient marked it as spam; the provider could not deliver it.
DELIVERED = "delivered"
BOUNCED = "bounced"
COMPLAINED = "complained"
FAILED = "failed"
RECEIPTS = (DELIVERED, BOUNCED, COMPLAINED, FAILED)
STATUSES = (QUEUED, SENDING, SENT, DEAD, SUPERSEDED, *RECEIPTS)


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),
                      # a delivery receipt finds its message by the provider's id (idp.delivery.receipts)
                      Index("ix_deliveries_provider_message_id", "provider_message_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    recipient: Mapped[str] = mapped_column(String(254), nullable=False)
    #: The purpose, which names the templates: "temporary_password", "account_created", …
    template: Mapped[str] = mapped_column(String(64), nullable=False)
    #: Sealed JSON parameters for the templates; NULL once sent.
    payload: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: While status is SENDING: until when the claiming dispatcher holds it.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When the provider's receipt (delivered, bounced, complained, failed) arrived, and what it said
    #: (bounce type and subtype, the SMS provider's reason) — never the message text.
    outcome_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome_detail: Mapped[str | None] = mapped_column(String(200))


class UndeliverableRecipient(db.Model):
    """An address the provider reported as not to be written to again: a hard bounce or a complaint (e-mail),
    an opted-out or invalid number (SMS). Messages that can go elsewhere go elsewhere (a temporary password to
    the phone); the mark is lifted when the customer proves the address again or an operator clears it."""

    __tablename__ = "undeliverable_recipients"

    #: Normalised like the outbox's ``recipient`` (lower-case e-mail, E.164 phone).
    recipient: Mapped[str] = mapped_column(String(254), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), nullable=False)
    #: ``bounce:Permanent/General``, ``complaint:abuse``, ``sms:opted-out`` …: readable, no message text.
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    marked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: The message whose receipt said so.
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))


class SnsSubscriptionConfirmation(db.Model):
    """A verified SubscriptionConfirmation from a configured SNS topic, waiting for the operator's
    ``idp deliveries confirm-subscription`` (the provider never follows a SubscribeURL by itself)."""

    __tablename__ = "sns_subscription_confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_arn: Mapped[str] = mapped_column(String(256), nullable=False, index=True)
    #: The token ``ConfirmSubscription`` takes (valid three days); not a secret of ours.
    token: Mapped[str] = mapped_column(Text, nullable=False)
    message_id: Mapped[str] = mapped_column(String(100), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
