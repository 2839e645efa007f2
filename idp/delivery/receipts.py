"""Delivery receipts: what SES and SNS report after the hand-off, recorded on the outbox row.

A verified SNS notification (:mod:`idp.delivery.sns_messages`) carries one of:

* an SES event (event publishing through a configuration set: ``eventType`` ``Delivery``, ``Bounce`` or
  ``Complaint``; identity notifications' ``notificationType`` is read the same way), matched by
  ``mail.messageId``;
* an SMS delivery status record (``notification.messageId``, ``status`` ``SUCCESS`` / ``FAILURE``,
  ``delivery.providerResponse``), matched by ``notification.messageId``.

The message is found by ``deliveries.provider_message_id`` (the id SES or SNS gave when it took it) and gets
``delivered``, ``bounced`` (``outcome_detail`` ``hard: Permanent/General`` or ``soft: Transient/…``),
``complained`` or ``failed``, with ``outcome_at``. A later, graver receipt replaces an earlier one (a complaint
after the delivery); a milder one never does, and the same receipt again changes nothing.

A hard bounce or a complaint marks the address in ``undeliverable_recipients`` (audited
``delivery.recipient_marked``): a temporary password for that account then goes to its phone
(:mod:`idp.passwords.reset`). The mark is lifted by an operator (``idp deliveries clear-undeliverable``,
audited ``delivery.recipient_cleared``) or when the customer completes «Изменение пароля» with a temporary
password that was sent to that address (:mod:`idp.passwords.change`; possible only for an account with no
phone, whose password still goes there).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from idp.audit import Origin, record
from idp.delivery.message import EMAIL, SMS, mask_recipient
from idp.delivery.models import (BOUNCED, COMPLAINED, DELIVERED, FAILED, SENT, Delivery, SnsSubscriptionConfirmation,
                                 UndeliverableRecipient)
from idp.delivery.sns_messages import NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UnverifiedMessage
from idp.extensions import db
from idp.ops.metrics import count_delivery

log = logging.getLogger(__name__)

#: How grave each state after the hand-off is: a receipt never replaces a graver one.
_RANK = {SENT: 0, DELIVERED: 1, FAILED: 2, BOUNCED: 2, COMPLAINED: 3}
#: SES event types that say nothing this provider records (opens, clicks, sends…): acknowledged, ignored.
_SES_TYPES = {"Delivery", "Bounce", "Complaint"}


def handle(message: dict, now: datetime) -> dict:
    """Act on a verified SNS message; returns what was done (for the endpoint's answer and the tests).

    Raises :class:`UnverifiedMessage` (400) for a notification whose content is not a receipt's shape."""
    if message["Type"] == SUBSCRIPTION_CONFIRMATION:
        return _keep_confirmation(message, now)
    if message["Type"] != NOTIFICATION:
        log.warning("SNS %s for %s received: nothing to do", message["Type"], message["TopicArn"])
        return {"result": "ignored"}
    try:
        event = json.loads(message["Message"])
    except (ValueError, RecursionError):
        raise UnverifiedMessage("receipt.malformed", "the notification's Message is not JSON", 400) from None
    if not isinstance(event, dict):
        raise UnverifiedMessage("receipt.malformed", "the notification's Message is not a JSON object", 400)
    kind = event.get("eventType") or event.get("notificationType")
    if isinstance(kind, str) and isinstance(event.get("mail"), dict):
        if kind not in _SES_TYPES:
            return {"result": "ignored", "event": kind[:40]}
        return _ses_receipt(kind, event, now)
    if isinstance(event.get("notification"), dict) and "status" in event:
        return _sms_receipt(event, now)
    raise UnverifiedMessage("receipt.unknown", "the notification is neither an SES event nor an SMS status", 400)


def _ses_receipt(kind: str, event: dict, now: datetime) -> dict:
    message_id = _text(event["mail"].get("messageId"), "mail.messageId")
    mark = None
    if kind == "Delivery":
        status, detail = DELIVERED, "delivered"
    elif kind == "Bounce":
        bounce = _object(event.get("bounce"), "bounce")
        bounce_type = _text(bounce.get("bounceType"), "bounce.bounceType")
        sub_type = str(bounce.get("bounceSubType") or "Undetermined")[:60]
        hard = bounce_type == "Permanent"
        status, detail = BOUNCED, f"{'hard' if hard else 'soft'}: {bounce_type[:60]}/{sub_type}"
        mark = f"bounce:{bounce_type[:60]}/{sub_type}" if hard else None
    else:
        complaint = _object(event.get("complaint"), "complaint")
        feedback = str(complaint.get("complaintFeedbackType") or "unspecified")[:60]
        status, detail, mark = COMPLAINED, f"complaint: {feedback}", f"complaint:{feedback}"
    return _apply(EMAIL, message_id, status, detail, mark, now)


def _sms_receipt(event: dict, now: datetime) -> dict:
    message_id = _text(event["notification"].get("messageId"), "notification.messageId")
    outcome = _text(event.get("status"), "status").upper()
    if outcome not in ("SUCCESS", "FAILURE"):
        raise UnverifiedMessage("receipt.malformed", "status must be SUCCESS or FAILURE", 400)
    delivery = event.get("delivery") if isinstance(event.get("delivery"), dict) else {}
    response = " ".join(str(delivery.get("providerResponse") or "").split())[:150]
    if outcome == "SUCCESS":
        return _apply(SMS, message_id, DELIVERED, "delivered" + (f": {response}" if response else ""), None, now)
    return _apply(SMS, message_id, FAILED, "failed" + (f": {response}" if response else ""), None, now)


def _apply(channel: str, message_id: str, status: str, detail: str, mark: str | None, now: datetime) -> dict:
    row = db.session.execute(
        select(Delivery).where(Delivery.provider_message_id == message_id, Delivery.channel == channel)
        .with_for_update()).scalar_one_or_none()
    if row is None:
        # Another system's message through the same configuration set, or a message purged since.
        log.info("receipt (%s) for an unknown %s message %s: ignored", status, channel, message_id[:80])
        db.session.rollback()
        return {"result": "unknown_message"}
    current = _RANK.get(row.status)
    if current is None or _RANK[status] < current or (row.status, row.outcome_detail) == (status, detail):
        db.session.rollback()  # not sent by us (yet), a milder receipt, or the same one again
        return {"result": "unchanged", "delivery_id": row.id, "status": row.status}
    row.status, row.outcome_detail, row.outcome_at = status, detail[:200], now
    marked = mark_undeliverable(row, mark, now) if mark else False
    db.session.commit()
    count_delivery(channel, status)
    log.info("delivery %s (%s %s to %s): %s (%s)", row.id, row.template, channel, mask_recipient(row.recipient),
             status, detail)
    return {"result": "recorded", "delivery_id": row.id, "status": status, "marked": marked}


def mark_undeliverable(row: Delivery, reason: str, now: datetime) -> bool:
    """Mark ``row``'s recipient as not to be written to (in the caller's transaction); False if it already is."""
    if db.session.get(UndeliverableRecipient, row.recipient) is not None:
        return False
    try:
        with db.session.begin_nested():  # a receipt of another message to the address may mark it meanwhile
            db.session.add(UndeliverableRecipient(recipient=row.recipient, channel=row.channel, reason=reason[:200],
                                                  marked_at=now, delivery_id=row.id))
    except IntegrityError:
        return False
    record("delivery.recipient_marked", at=now, account_id=row.account_id, delivery_id=row.id, channel=row.channel,
           reason=reason[:200])
    return True


def is_undeliverable(recipient: str) -> bool:
    return db.session.get(UndeliverableRecipient, recipient) is not None


def clear_undeliverable(recipient: str, now: datetime, *, account_id: int | None = None, via: str,
                        origin: Origin | None = None) -> bool:
    """Lift the mark on ``recipient`` (in the caller's transaction); False when it was not marked."""
    mark = db.session.get(UndeliverableRecipient, recipient)
    if mark is None:
        return False
    channel = mark.channel
    db.session.execute(delete(UndeliverableRecipient).where(UndeliverableRecipient.recipient == recipient))
    record("delivery.recipient_cleared", at=now, origin=origin, account_id=account_id, channel=channel, via=via)
    return True


def describe_mark(mark: UndeliverableRecipient) -> dict:
    """A mark for operators: the recipient masked."""
    return {"recipient": mask_recipient(mark.recipient), "channel": mark.channel, "reason": mark.reason,
            "marked_at": mark.marked_at.isoformat() + "Z", "delivery_id": mark.delivery_id}


def _keep_confirmation(message: dict, now: datetime) -> dict:
    """Keep the token for ``idp deliveries confirm-subscription``; the SubscribeURL is never visited."""
    topic = message["TopicArn"]
    db.session.execute(delete(SnsSubscriptionConfirmation).where(SnsSubscriptionConfirmation.topic_arn == topic))
    db.session.add(SnsSubscriptionConfirmation(topic_arn=topic, token=message["Token"],
                                               message_id=message["MessageId"][:100], received_at=now))
    db.session.commit()
    log.warning("SNS subscription of %s waits for confirmation: run `idp deliveries confirm-subscription`", topic)
    return {"result": "pending_confirmation"}


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise UnverifiedMessage("receipt.malformed", f"{name} is missing or not a string", 400)
    return value


def _object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise UnverifiedMessage("receipt.malformed", f"{name} is missing", 400)
    return value
