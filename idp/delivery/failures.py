"""What operators and admins see of the outbox: every message in every state, never its text.

``idp deliveries list``, ``/admin/deliveries`` and ``GET /api/admin/deliveries`` show a message queued,
waiting for a retry, being sent, sent (with the provider's message id), delivered, bounced, complained
about, reported failed by the provider, dead or superseded — with its attempts, times and the provider's
reasons; never the sealed payload, the recipient only masked.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select

from idp.delivery.message import mask_recipient
from idp.delivery.models import (BOUNCED, COMPLAINED, DEAD, DELIVERED, QUEUED, SENDING, SENT, SUPERSEDED,
                                 Delivery)
from idp.delivery.models import FAILED as REPORTED_FAILED
from idp.errors import Conflict, NotFound
from idp.extensions import db

#: Which failed messages to list: all of them, only dead letters, or only those waiting for a retry.
FAILED, DEAD_ONLY, RETRYING = "failed", "dead", "retrying"
#: Every message whatever its state; and the provider's receipt "could not deliver" (status ``failed``: the
#: filter ``failed`` keeps its older meaning, what did not go out — dead letters and retries).
ALL, UNDELIVERED = "all", "undelivered"
#: The filters of the admin page and the admin API, in the order the page offers them: what needs an admin
#: first, then every state in the life of a message.
FILTERS = (FAILED, ALL, QUEUED, RETRYING, SENDING, SENT, DELIVERED, BOUNCED, COMPLAINED, UNDELIVERED,
           DEAD_ONLY, SUPERSEDED)
#: The largest id a row can have (an INTEGER column); a larger number names no row, it is not an error.
MAX_ID = 2**31 - 1


class DeliveryNotFound(NotFound):
    code = "delivery.not_found"


class NotRequeueable(Conflict):
    """Only a dead letter that still holds its parameters can go back in the queue."""

    code = "delivery.not_dead"


def _retrying():
    return and_(Delivery.status == QUEUED, Delivery.last_error.isnot(None))


def failed_filter(which: str = FAILED):
    """The WHERE clause of ``which`` messages (one of :data:`FILTERS`); ``None`` for :data:`ALL`."""
    if which == ALL:
        return None
    if which == FAILED:
        return or_(Delivery.status == DEAD, _retrying())
    if which == RETRYING:
        return _retrying()
    if which == UNDELIVERED:
        return Delivery.status == REPORTED_FAILED
    if which in FILTERS:
        return Delivery.status == which
    raise ValueError(f"not a delivery filter: {which!r}")


def listing(which: str = ALL, *, status: str | None = None, account_id: int | None = None,
            recipient: str | None = None, since: datetime | None = None):
    """The messages of filter ``which`` (and of exactly ``status``, when given), of one account (by its id,
    or sent to ``recipient``, its normalised e-mail or phone) and created since ``since``; newest first."""
    query = select(Delivery).order_by(Delivery.id.desc())
    clause = failed_filter(which)
    if clause is not None:
        query = query.where(clause)
    if status is not None:
        query = query.where(Delivery.status == status)
    whose = [c for c in (Delivery.account_id == account_id if account_id is not None else None,
                         Delivery.recipient == recipient if recipient else None) if c is not None]
    if whose:
        query = query.where(or_(*whose))
    if since is not None:
        query = query.where(Delivery.created_at >= since)
    return query


def state_of(row: Delivery) -> str:
    """The state an admin reads: a status, or ``retrying`` for a queued message whose last attempt failed
    (or which waits for the SMS budget: its ``last_error`` says so)."""
    return RETRYING if row.status == QUEUED and row.last_error else row.status


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
    """An outbox row for operators and admins, every state field: never its payload, the recipient masked."""
    return {
        "id": row.id, "account_id": row.account_id, "channel": row.channel,
        "recipient": mask_recipient(row.recipient), "template": row.template, "status": row.status,
        "state": state_of(row), "attempts": row.attempts, "next_attempt_at": _iso(row.next_attempt_at),
        "last_error": row.last_error, "provider_message_id": row.provider_message_id,
        "created_at": _iso(row.created_at), "sent_at": _iso(row.sent_at), "outcome_at": _iso(row.outcome_at),
        "outcome_detail": row.outcome_detail, "requeueable": requeueable(row),
    }


def _iso(value):
    return value.isoformat() + "Z" if value else None
