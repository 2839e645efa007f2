"""Putting a message in the outbox, inside the caller's transaction."""
from __future__ import annotations

from idp.delivery.models import QUEUED, Delivery
from idp.delivery.sealing import Sealer
from idp.extensions import db


def enqueue(services, purpose: str, *, channel: str, recipient: str, account_id: int | None,
            params: dict) -> Delivery:
    """Add a queued message (flushed, not committed): it exists exactly when the caller's change does.

    ``purpose`` names the templates under ``templates/messages/<purpose>/``; ``params`` are sealed.
    """
    now = services.clock.now()
    row = Delivery(account_id=account_id, channel=channel, recipient=recipient, template=purpose,
                   payload=Sealer(services.settings.secret_key).seal(params), status=QUEUED, attempts=0,
                   next_attempt_at=now, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def dispatch_inline(services, rows: list[Delivery]) -> list[str | None]:
    """In ``inline`` mode, try to send just-committed rows now; in ``worker`` mode leave them queued."""
    if services.settings.delivery_mode != "inline":
        return [None for _ in rows]
    from idp.delivery.dispatcher import Dispatcher

    dispatcher = Dispatcher(services)
    return [dispatcher.dispatch(row_id) for row_id in [row.id for row in rows]]
