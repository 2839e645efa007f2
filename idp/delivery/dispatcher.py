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
from idp.delivery.budget import SmsBudget
from idp.delivery.claiming import locked_candidates
from idp.delivery.message import SMS, mask_recipient
from idp.delivery.models import DEAD, QUEUED, SENDING, SENT, Delivery
from idp.delivery.sealing import Sealer, SealError
from idp.delivery.transports import DeliveryError
from idp.extensions import db
from idp.ops.metrics import count_delivery, count_sms_deferred

log = logging.getLogger(__name__)

#: How long a claim holds before a row still "sending" is judged of unknown outcome.
LEASE = timedelta(minutes=5)
#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=1)


def backoff_after(base: timedelta, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failure: ``base``, 2×base, 4×base… capped at :data:`MAX_BACKOFF`."""
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def retry_window(settings) -> timedelta:
    """How long after its first attempt a message may still be tried (every backoff wait added up): what a
    message that must still be valid at its last attempt (a logout token's ``exp``) has to outlive."""
    base = timedelta(seconds=settings.delivery_backoff)
    return sum((backoff_after(base, n) for n in range(1, settings.delivery_max_attempts)), timedelta())


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
        self.sealer = Sealer(services.settings.secret_keys)
        #: Throttling seen by this dispatcher, per channel: how many in a row, and until when to wait.
        self._throttles: dict[str, int] = {}
        self._paused: dict[str, datetime] = {}

    def backoff(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure: base, 2×base, 4×base… capped at an hour."""
        return backoff_after(timedelta(seconds=self.services.settings.delivery_backoff), attempts)

    def claim_due(self, now: datetime, limit: int, ids: list[int] | None = None) -> list[int]:
        """Claim up to ``limit`` due rows (or just those of ``ids`` that are due) for this dispatcher, in one
        short transaction: queued → sending, leased until ``now + LEASE``, one more attempt counted. Returns
        the ids claimed, due order. On PostgreSQL the candidates are locked ``FOR UPDATE SKIP LOCKED``, so
        dispatchers claiming at the same moment take different rows instead of queueing on the same ones;
        on SQLite (one writer at a time) the same UPDATE is simply conditional. Either way a row is claimed
        by exactly one dispatcher."""
        due = (Delivery.status == QUEUED, Delivery.next_attempt_at <= now)
        candidates = (select(Delivery.id).where(*due)
                      .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit))
        if ids is not None:
            candidates = candidates.where(Delivery.id.in_(ids))
        claimed = db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(locked_candidates(candidates, "due")), *due)
            .values(status=SENDING, claimed_until=now + LEASE, attempts=Delivery.attempts + 1)
            .returning(Delivery.id, Delivery.next_attempt_at)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        return [row.id for row in sorted(claimed, key=lambda row: (row.next_attempt_at, row.id))]

    def run_due(self, limit: int = 100) -> Report:
        """One pass: reap stale claims, claim a batch of due rows (at most ``limit``), then send each.

        Several dispatchers (threads, processes, machines) split the due rows between them: each claims
        its own batch (see :meth:`claim_due`) and holds it for ``LEASE``, renewed while it works through a
        long batch. The dispatcher knows only the outbox. Pending «Забыли пароль?» requests become messages
        in :func:`idp.passwords.reset.issue_pending`, which the delivery worker (``idp deliveries run``)
        calls before each pass."""
        report = Report()
        now = self.services.clock.now()
        report.dead.extend(self.reap(now))
        batch = self.claim_due(now, limit)
        lease_until = now + LEASE
        for position, delivery_id in enumerate(batch):
            if self.services.clock.now() > lease_until - LEASE / 2:  # a slow provider: keep the rest ours
                lease_until, kept = self._renew(batch[position:], lease_until)
                if delivery_id not in kept:
                    continue  # the lease ran out first: the reaper has it (or will), never sent twice
            self._record(report, delivery_id, self.dispatch(delivery_id, claimed=True))
        return report

    def _renew(self, ids: list[int], lease_until: datetime) -> tuple[datetime, set[int]]:
        """Extend this dispatcher's claim on ``ids`` (rows still sending under the lease it set)."""
        now = self.services.clock.now()
        renewed = set(db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids), Delivery.status == SENDING, Delivery.claimed_until == lease_until,
                   Delivery.claimed_until >= now)
            .values(claimed_until=now + LEASE).returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).scalars())
        db.session.commit()
        return now + LEASE, renewed

    def dispatch(self, delivery_id: int, *, claimed: bool = False) -> str | None:
        """Claim and send one row; returns its new status, or None if another dispatcher has it.
        ``claimed``: this dispatcher claimed it already (:meth:`run_due`'s batch)."""
        if not claimed and not self.claim_due(self.services.clock.now(), 1, ids=[delivery_id]):
            return None
        row = db.session.get(Delivery, delivery_id)
        return self._send(row)

    def _send(self, row: Delivery) -> str:
        """Send one row this dispatcher claimed (status ``sending``, its attempt counted) and settle it.

        One request to the provider per attempt (the SDK never retries a send, see
        :mod:`idp.delivery.courier`); what happens next is decided here, by the kind of failure:

        * the outcome is unknown (no answer after the request left): dead at once, never resent
          automatically — the provider may have taken it; an admin requeues it if it did not arrive;
        * a permanent refusal (an unverified sender, an invalid phone number…): dead at once, ``last_error``
          saying why in words;
        * throttling: queued again after a wait that doubles with every throttle in a row on the channel
          (capped at an hour), the attempt given back — the message is not at fault, so throttling never
          makes it dead — and the channel's other rows in this dispatcher wait as long without asking;
        * anything else: retried with backoff until ``delivery_max_attempts``.

        An SMS first passes the SMS budget (:mod:`idp.delivery.budget`): beyond it, it waits for the window's
        end, its attempt given back."""
        try:
            message = self.services.renderer.render(row.template, channel=row.channel, recipient=row.recipient,
                                                    params=self.sealer.open(row.payload or ""))
        except SealError as exc:
            return self._finish(row, DEAD, error=str(exc))
        now = self.services.clock.now()
        paused = self._paused.get(row.channel)
        if paused is not None and paused > now:
            return self._hold(row, paused)
        if row.channel == SMS:
            hold = SmsBudget.of(self.services).admit(row.template, row.recipient, now)
            if hold is not None:
                log.warning("delivery %s (%s SMS to %s) held by the SMS budget (%s) until %s", row.id,
                            row.template, mask_recipient(row.recipient), hold.text,
                            hold.until.isoformat(timespec="minutes"))
                count_sms_deferred(hold.limit)
                return self._hold(row, hold.until)
        try:
            provider_id = self.services.courier.send(message)
        except DeliveryError as exc:
            return self._failed(row, exc)
        self._throttles.pop(row.channel, None)
        self._paused.pop(row.channel, None)
        return self._finish(row, SENT, provider_id=provider_id)

    def _failed(self, row: Delivery, exc: DeliveryError) -> str:
        """Settle a row whose send raised ``exc`` (see :meth:`_send`)."""
        now = self.services.clock.now()
        where = f"delivery {row.id} ({row.template} {row.channel} to {mask_recipient(row.recipient)})"
        if exc.throttled and not exc.maybe_sent:
            throttles = self._throttles[row.channel] = self._throttles.get(row.channel, 0) + 1
            until = self._paused[row.channel] = now + self.backoff(throttles)
            log.warning("%s throttled (%s in a row on %s): %s; retried at %s, not counted as an attempt",
                        where, throttles, row.channel, exc, until.isoformat(timespec="seconds"))
            return self._finish(row, QUEUED, retry_at=until, give_back=True,
                                error=f"{exc} (throttled: retried later, not counted as an attempt)")
        log.error("%s attempt %s failed: %s", where, row.attempts, exc)
        if exc.maybe_sent:
            return self._finish(row, DEAD, error=f"outcome unknown: {exc}; the provider may have taken it, so "
                                                 "it is not resent automatically (requeue it if it did not "
                                                 "arrive)")
        if exc.permanent:
            reason = f" ({exc.reason})" if exc.reason else ""
            return self._finish(row, DEAD, error=f"{exc}{reason}; refused for good, not retried: fix the "
                                                 "cause, then requeue")
        if row.attempts >= self.services.settings.delivery_max_attempts:
            return self._finish(row, DEAD, error=str(exc))
        return self._finish(row, QUEUED, error=str(exc), retry_at=now + self.backoff(row.attempts))

    def _hold(self, row: Delivery, until: datetime) -> str:
        """Back in the queue until ``until`` without trying it: the attempt given back, no error recorded."""
        row.status, row.claimed_until, row.next_attempt_at = QUEUED, None, until
        row.attempts = max(row.attempts - 1, 0)
        db.session.commit()
        return QUEUED

    def _finish(self, row: Delivery, status: str, *, error: str | None = None, retry_at: datetime | None = None,
                provider_id: str | None = None, give_back: bool = False) -> str:
        now = self.services.clock.now()
        row.status = status
        row.claimed_until = None
        if give_back:
            row.attempts = max(row.attempts - 1, 0)
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
        """Rows whose dispatcher died mid-send: outcome unknown, so dead (not resent) until an admin says.
        One conditional UPDATE (candidates locked ``SKIP LOCKED`` on PostgreSQL), so when several
        dispatchers reap at once each stale row is reaped, and its ``delivery.dead`` recorded, by one."""
        expired = (Delivery.status == SENDING, Delivery.claimed_until < now)
        reaped = db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(locked_candidates(select(Delivery.id).where(*expired), "stale")), *expired)
            .values(status=DEAD, claimed_until=None,
                    last_error="outcome unknown: the dispatcher stopped while sending")
            .returning(Delivery.id, Delivery.account_id, Delivery.channel, Delivery.template)
            .execution_options(synchronize_session=False)
        ).all()
        stale = sorted(row.id for row in reaped)
        for row in sorted(reaped, key=lambda row: row.id):
            record("delivery.dead", at=now, account_id=row.account_id, delivery_id=row.id,
                   channel=row.channel, purpose=row.template)
        db.session.commit()
        if stale:
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
