"""The audit trail: one row per security event, with who, where from and when; never a secret."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db, not_null


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    # An event without a customer (a machine's token) or without a client (sign-ins and most other events
    # name none) adds no entry to those two indexes: partial, as the token table's (see OAuthToken).
    __table_args__ = (
        Index("ix_audit_events_event_at", "event", "at"),
        Index("ix_audit_events_account_id", "account_id", **not_null("account_id")),
        Index("ix_audit_events_client_id", "client_id", **not_null("client_id")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    #: A stable event name, see :data:`idp.audit.events.EVENTS`.
    event: Mapped[str] = mapped_column(String(50), nullable=False)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    client_id: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: Small, non-secret facts: the reason of a failure, the channel, the grant type…
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
