"""Messages that did not go out: dead letters, and those waiting for a retry after a failed attempt.

What operators and admins see of them (``idp deliveries list --failed``, ``/admin/deliveries``,
``GET /api/admin/deliveries``): never the sealed payload, the recipient only masked.
"""
from __future__ import annotations

from sqlalchemy import and_, or_

from idp.delivery.message import mask_recipient
from idp.delivery.models import DEAD, QUEUED, Delivery
from idp.errors import Conflict, NotFound
from idp.extensions import db

#: Which failed messages to list: all of them, only dead letters, or only those waiting for a retry.
FAILED, DEAD_ONLY, RETRYING = "failed", "dead", "retrying"
FILTERS = (FAILED, DEAD_ONLY, RETRYING)
#: The largest id a row can have (an INTEGER column); a larger number names no row, it is not an error.
MAX_ID = 2**31 - 1


class DeliveryNotFound(NotFound):
    code = "delivery.not_found"


class NotRequeueable(Conflict):
    """Only a dead letter that still holds its parameters can go back in the queue."""

    code = "delivery.not_dead"


def failed_filter(which: str = FAILED):
    """The WHERE clause of ``which`` failed messages (one of :data:`FILTERS`)."""
    retrying = and_(Delivery.status == QUEUED, Delivery.last_error.isnot(None))
    return {FAILED: or_(Delivery.status == DEAD, retrying), DEAD_ONLY: Delivery.status == DEAD,
            RETRYING: retrying}[which]


def get_delivery(delivery_id) -> Delivery:
    """The outbox row with this id (an int or the digits of one); raises :class:`DeliveryNotFound`."""
    text = str(delivery_id).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        raise DeliveryNotFound(f"no delivery {text[:20]!r}")
    row = db.session.get(Delivery, int(text))
    if row is None:
        raise DeliveryNotFound(f"no delivery {int(text)}")
    return row


def requeueable(row: Delivery) -> bool:
    return row.status == DEAD and row.payload is not None


def describe(row: Delivery) -> dict:
    """An outbox row for operators and admins: never its payload, the recipient masked."""
    return {
        "id": row.id, "account_id": row.account_id, "channel": row.channel,
        "recipient": mask_recipient(row.recipient), "template": row.template, "status": row.status,
        "attempts": row.attempts, "next_attempt_at": _iso(row.next_attempt_at), "last_error": row.last_error,
        "provider_message_id": row.provider_message_id, "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at), "requeueable": requeueable(row),
    }


def _iso(value):
    return value.isoformat() + "Z" if value else None
