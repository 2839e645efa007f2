"""Filtering the trail, for ``idp audit`` and the admin page."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db


def search(*, event: str | None = None, account_id: int | None = None, client_id: str | None = None,
           ip: str | None = None, since: datetime | None = None, until: datetime | None = None,
           limit: int = 100) -> list[AuditEvent]:
    """Newest first. ``event`` may end with ``.*`` to match a family ("signin.*")."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if event:
        query = query.where(AuditEvent.event.startswith(event[:-1]) if event.endswith(".*")
                            else AuditEvent.event == event)
    if account_id is not None:
        query = query.where(AuditEvent.account_id == account_id)
    if client_id:
        query = query.where(AuditEvent.client_id == client_id)
    if ip:
        query = query.where(AuditEvent.ip == ip)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return list(db.session.execute(query).scalars())
