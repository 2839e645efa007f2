"""The customer's sign-in session at the provider (the single sign-on session portals share)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.extensions import db


class BrowserSession(db.Model):
    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: SHA-256 of the random token kept in the signed cookie: a database dump opens no session.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    #: The session's public id: the ``sid`` claim of ID tokens and logout tokens (Back-Channel Logout 1.0
    #: §2.4). Random, never the row id; it opens nothing (the cookie's token does).
    sid: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True,
                                            nullable=False)
    auth_time: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: Authentication methods (RFC 8176), space-separated: "pwd".
    amr: Mapped[str] = mapped_column(String(50), nullable=False, default="pwd")
    #: The absolute end: sign-in time plus the session lifetime, however active the customer is.
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    #: The last request seen (updated at most once a minute); idle longer than the idle timeout → over.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)

    def live(self, now: datetime, idle_timeout: timedelta) -> bool:
        return self.ended_at is None and now < self.expires_at and now < self.last_seen_at + idle_timeout


class BrowserSessionClient(db.Model):
    """A client a code was issued to in a session: it gets a logout token when the session ends."""

    __tablename__ = "browser_session_clients"
    __table_args__ = (Index("ix_browser_session_clients_client_pk", "client_pk"),)

    browser_session_id: Mapped[int] = mapped_column(ForeignKey("browser_sessions.id", ondelete="CASCADE"),
                                                    primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id", ondelete="CASCADE"),
                                           primary_key=True)
    first_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
