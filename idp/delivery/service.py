"""Sending a message now and recording the outcome."""
from __future__ import annotations

import logging
from datetime import datetime

from idp.delivery.courier import Courier
from idp.delivery.message import OutgoingMessage, mask_recipient
from idp.delivery.models import FAILED, SENT, Delivery
from idp.delivery.transports import DeliveryError
from idp.extensions import db

log = logging.getLogger(__name__)


def send_now(courier: Courier, message: OutgoingMessage, *, account_id: int | None, now: datetime) -> Delivery:
    """Send through the courier and add a :class:`Delivery` row (in the caller's transaction) if it went.

    Raises :class:`DeliveryError` if the transport failed; the caller decides what to roll back, then
    calls :func:`record_failure` so the operator sees it.
    """
    provider_id = courier.send(message)
    record = Delivery(account_id=account_id, channel=message.channel, recipient=message.recipient,
                      template=message.template, status=SENT, attempts=1, provider_message_id=provider_id,
                      created_at=now, sent_at=now)
    db.session.add(record)
    return record


def record_failure(message: OutgoingMessage, error: DeliveryError, *, account_id: int | None,
                   now: datetime) -> None:
    """Log a failed send and keep a row of it (committed on its own: the cause was rolled back)."""
    log.error("delivery failed: %s %s to %s: %s", message.template, message.channel,
              mask_recipient(message.recipient), error)
    db.session.add(Delivery(account_id=account_id, channel=message.channel, recipient=message.recipient,
                            template=message.template, status=FAILED, attempts=1, last_error=str(error)[:500],
                            created_at=now))
    db.session.commit()
