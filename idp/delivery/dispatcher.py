"""The dispatcher: sends queued outbox rows through the courier, with retries, backoff and dead letters.

Never twice: a row is claimed by one atomic UPDATE (queued → sending) before its transport is called,
so two dispatchers (threads, processes, instances) cannot both send it. A definite refusal (the
transport says it did not take the message) is retried with exponential backoff until
``delivery_max_attempts``; an outcome that is unknown (a timeout after the request left, or a
dispatcher that died holding the claim) is not retried automatically but marked dead for an admin,
because a second attempt might deliver the message twice.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from idp.audit import record
from idp.delivery.message import mask_recipient
from idp.delivery.models import DEAD, QUEUED, SENDING, SENT, Delivery
from idp.delivery.sealing import Sealer, SealError
from idp.delivery.transports import DeliveryError
from idp.extensions import db
from idp.ops.metrics import count_delivery

log = logging.getLogger(__name__)

#: How long a claim holds before a row still "sending" is judged of unknown outcome.
LEASE = timedelta(minutes=5)
#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=1)


@dataclass
class Report:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "dead": len(self.dead)}


class Dispatcher:
    def __init__(self, services):
        self.services = services
        self.sealer = Sealer(services.settings.secret_key)

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure: base, 2×base, 4×base… capped at an hour."""
        base = timedelta(seconds=self.services.settings.delivery_backoff)
        return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)

    def due_ids(self, now: datetime, limit: int) -> list[int]:
        return list(db.session.execute(
            select(Delivery.id).where(Delivery.status == QUEUED, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)).scalars())

    def run_due(self, limit: int = 100) -> Report:
        """One pass: reap stale claims, then try every due row once (at most ``limit`` of them).

        The dispatcher knows only the outbox. Pending «Забыли пароль?» requests become messages in
        :func:`idp.passwords.reset.issue_pending`, which the delivery worker (``idp deliveries run``)
        calls before each pass."""
        report = Report()
        now = self.services.clock.now()
        report.dead.extend(self.reap(now))
        for delivery_id in self.due_ids(now, limit):
            self._record(report, delivery_id, self.dispatch(delivery_id))
        return report

    def dispatch(self, delivery_id: int) -> str | None:
        """Claim and send one row; returns its new status, or None if another dispatcher has it."""
        now = self.services.clock.now()
        claimed = db.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == QUEUED, Delivery.next_attempt_at <= now)
            .values(status=SENDING, claimed_until=now + LEASE, attempts=Delivery.attempts + 1)
        ).rowcount
        db.session.commit()
        if claimed != 1:
            return None
        row = db.session.get(Delivery, delivery_id)
        try:
            message = self.services.renderer.render(row.template, channel=row.channel, recipient=row.recipient,
                                                    params=self.sealer.open(row.payload or ""))
        except SealError as exc:
            return self._finish(row, DEAD, error=str(exc))
        try:
            provider_id = self.services.courier.send(message)
        except DeliveryError as exc:
            log.error("delivery %s (%s %s to %s) attempt %s failed: %s", row.id, row.template, row.channel,
                      mask_recipient(row.recipient), row.attempts, exc)
            if exc.maybe_sent or row.attempts >= self.services.settings.delivery_max_attempts:
                return self._finish(row, DEAD, error=str(exc))
            return self._finish(row, QUEUED, error=str(exc), retry_at=self.services.clock.now()
                                + self.backoff(row.attempts))
        return self._finish(row, SENT, provider_id=provider_id)

    def _finish(self, row: Delivery, status: str, *, error: str | None = None, retry_at: datetime | None = None,
                provider_id: str | None = None) -> str:
        now = self.services.clock.now()
        row.status = status
        row.claimed_until = None
        if error is not None:
            row.last_error = error[:500]
        if retry_at is not None:
            row.next_attempt_at = retry_at
        if status == SENT:
            row.sent_at, row.provider_message_id, row.payload, row.last_error = now, provider_id, None, None
        if status == DEAD:
            record("delivery.dead", at=now, account_id=row.account_id, delivery_id=row.id, channel=row.channel,
                   purpose=row.template)
        db.session.commit()
        count_delivery(row.channel, status)
        return status

    def reap(self, now: datetime) -> list[int]:
        """Rows whose dispatcher died mid-send: outcome unknown, so dead (not resent) until an admin says."""
        stale = list(db.session.execute(select(Delivery.id).where(Delivery.status == SENDING,
                                                                   Delivery.claimed_until < now)).scalars())
        if stale:
            db.session.execute(update(Delivery).where(Delivery.id.in_(stale), Delivery.status == SENDING)
                               .values(status=DEAD, claimed_until=None,
                                       last_error="outcome unknown: the dispatcher stopped while sending"))
            for row in db.session.execute(select(Delivery.id, Delivery.account_id, Delivery.channel,
                                                 Delivery.template).where(Delivery.id.in_(stale))):
                record("delivery.dead", at=now, account_id=row.account_id, delivery_id=row.id,
                       channel=row.channel, purpose=row.template)
            db.session.commit()
            log.error("deliveries %s left in 'sending' past their lease: marked dead", stale)
        return stale

    def requeue(self, delivery_id: int) -> bool:
        """An admin's decision to try a dead message again (its payload must still be there, and a temporary
        password in it must still be within its lifetime: sending one that no longer works helps nobody)."""
        now = self.services.clock.now()
        stale = now - timedelta(seconds=self.services.settings.temp_password_ttl)
        done = db.session.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.status == DEAD, Delivery.payload.isnot(None),
                                   (Delivery.template != "temporary_password") | (Delivery.created_at > stale))
            .values(status=QUEUED, attempts=0, next_attempt_at=now, claimed_until=None)
        ).rowcount
        db.session.commit()
        return done == 1

    @staticmethod
    def _record(report: Report, delivery_id: int, status: str | None) -> None:
        {SENT: report.sent, QUEUED: report.retrying, DEAD: report.dead}.get(status, []).append(delivery_id)
