"""Putting a message in the outbox, inside the caller's transaction."""
from __future__ import annotations

from sqlalchemy import select, update

from idp.delivery.dispatcher import Dispatcher
from idp.delivery.models import DEAD, QUEUED, SUPERSEDED, Delivery
from idp.delivery.sealing import Sealer
from idp.extensions import db


def enqueue(services, purpose: str, *, channel: str, recipient: str, account_id: int | None,
            params: dict) -> Delivery:
    """Add a queued message (flushed, not committed): it exists exactly when the caller's change does.

    ``purpose`` names the templates under ``templates/messages/<purpose>/``; ``params`` are sealed.
    """
    row = Delivery(**row_values(services.settings.secret_keys, purpose, channel=channel, recipient=recipient,
                                account_id=account_id, params=params, now=services.clock.now()))
    db.session.add(row)
    db.session.flush()
    return row


def row_values(keys, purpose: str, *, channel: str, recipient: str, account_id: int | None, params: dict,
               now) -> dict:
    """The columns of a new queued outbox row, ``params`` sealed under ``keys`` (the current secret key):
    what :func:`enqueue` adds, and what a caller without the ORM session inserts (the protocol API)."""
    return {"account_id": account_id, "channel": channel, "recipient": recipient, "template": purpose,
            "payload": Sealer(keys).seal(params), "status": QUEUED, "attempts": 0, "next_attempt_at": now,
            "created_at": now}


def dispatch_inline(services, rows: list[Delivery]) -> list[str | None]:
    """In ``inline`` mode, try to send just-committed rows now; in ``worker`` mode leave them queued."""
    if services.settings.delivery_mode != "inline":
        return [None for _ in rows]
    dispatcher = Dispatcher(services)
    return [dispatcher.dispatch(row_id) for row_id in [row.id for row in rows]]


def supersede(account_id: int, purpose: str) -> int:
    """Withdraw the account's still-unsent messages of ``purpose`` (in the caller's transaction): their
    parameters are erased and they are never sent. A newer temporary password makes the older one's
    message worthless, and after an outage it must not arrive after (and be confused with) the newer one."""
    return db.session.execute(
        update(Delivery)
        .where(Delivery.account_id == account_id, Delivery.template == purpose,
               Delivery.status.in_((QUEUED, DEAD)))
        .values(status=SUPERSEDED, payload=None, claimed_until=None)
    ).rowcount


def channel_backlogged(channel: str) -> bool:
    """Whether messages on ``channel`` are waiting for a retry after a failed attempt: the transport is
    having trouble, whoever the messages are for. Answers about the channel, never about one account, so
    it may be told to anyone (known login or not) without revealing which logins exist."""
    return db.session.execute(
        select(Delivery.id).where(Delivery.status == QUEUED, Delivery.channel == channel,
                                  Delivery.attempts > 0).limit(1)
    ).first() is not None
