"""The SMS budget: how many SMS may leave in an hour, and to one phone in a day.

Every SMS on SNS costs money, and «Забыли пароль?» and the policy system can be made to send them to numbers
someone else chose: SMS pumping (traffic to premium numbers whose operator shares the fee) turns that into
cash for the fraudster. The budget caps what that can cost:

* ``IDP_SMS_PER_HOUR`` SMS in all per clock hour (UTC), shared by every worker;
* ``IDP_SMS_PER_PHONE_PER_DAY`` SMS to one phone number per UTC day.

Beyond either the SMS waits in the outbox until the window's end (its ``next_attempt_at``), its attempt
given back (it is no failure), and ``idp_sms_deferred_total{limit}`` and a warning in the log say so.

Temporary passwords come first: a customer is waiting for one at the sign-in page, while a welcome or
"password changed" notice may arrive an hour later without harm. The other SMS may use only four fifths of
the hourly budget, so the last fifth of every hour is kept for temporary passwords (a policy import that
queues thousands of welcome SMS never holds up a customer's reset). Per phone there is no priority: it is
the limit that stops pumping through «Забыли пароль?» itself.

The counters are the throttler's (``services.throttler.store.hit``: the database or Redis), in fixed windows
aligned on the epoch, so every instance and worker counts against the same numbers. ``hit`` has no undo, so
the order of the checks keeps wasted counts harmless: the hourly counters first (a count past the hour's
limit changes nothing in an hour already used up), the phone's only for an SMS the hour allows. An SMS then
held for its phone has used one of the hour's SMS — once a day at most, as it waits for the day's end.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = 3600
DAY = 24 * 3600
#: SMS purposes that may use the whole hourly budget; the others stop at :data:`OTHERS_SHARE` of it.
PRIORITY = frozenset({"temporary_password"})
OTHERS_SHARE = 0.8

_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Hold:
    """An SMS the budget holds back: until when, and which limit (``hour`` or ``phone``)."""

    until: datetime
    limit: str
    text: str


def window_end(now: datetime, window: int) -> datetime:
    """The end of the ``window``-second window ``now`` is in (aligned on the epoch, like the stores')."""
    seconds = int((now - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=(seconds // window + 1) * window)


class SmsBudget:
    def __init__(self, store, *, per_hour: int, per_phone_per_day: int):
        self.store = store
        self.per_hour = per_hour
        self.per_phone_per_day = per_phone_per_day

    @classmethod
    def of(cls, services) -> "SmsBudget":
        settings = services.settings
        return cls(services.throttler.store, per_hour=settings.sms_per_hour,
                   per_phone_per_day=settings.sms_per_phone_per_day)

    @property
    def others_per_hour(self) -> int:
        """What SMS other than temporary passwords may use of the hour (at least one)."""
        return max(1, int(self.per_hour * OTHERS_SHARE))

    def admit(self, purpose: str, phone: str, now: datetime) -> Hold | None:
        """Count one SMS of ``purpose`` to ``phone`` about to be sent: None if it may go, else a Hold."""
        hit = self.store.hit
        if purpose not in PRIORITY and not hit("sms-budget:hour:others", self.others_per_hour, HOUR, now):
            return Hold(window_end(now, HOUR), "hour",
                        f"{self.others_per_hour} SMS an hour other than temporary passwords "
                        f"(of IDP_SMS_PER_HOUR={self.per_hour})")
        if not hit("sms-budget:hour", self.per_hour, HOUR, now):
            return Hold(window_end(now, HOUR), "hour", f"IDP_SMS_PER_HOUR={self.per_hour}")
        if not hit(phone_key(phone), self.per_phone_per_day, DAY, now):
            return Hold(window_end(now, DAY), "phone",
                        f"IDP_SMS_PER_PHONE_PER_DAY={self.per_phone_per_day}")
        return None


def phone_key(phone: str) -> str:
    """The per-phone counter's key: a hash, so the counters table or Redis holds no phone numbers."""
    return "sms-budget:phone:" + hashlib.sha256(phone.encode("utf-8")).hexdigest()[:40]
