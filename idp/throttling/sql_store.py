"""Throttle and rate counters in the database, each change one atomic statement.

``INSERT … ON CONFLICT DO UPDATE … RETURNING`` works the same on SQLite (≥ 3.35) and PostgreSQL, so
parallel requests on several instances each get their own count: parallel guesses cannot slip past
the limit between a read and a write.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update

from idp.extensions import db
from idp.throttling.models import RateCounter, Throttle
from idp.throttling.policy import WaitPolicy


_EPOCH = datetime(1970, 1, 1)


def _insert(model):
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


class SqlStore:
    def reserve(self, key: str, policy: WaitPolicy, now: datetime) -> tuple[bool, datetime | None]:
        """Count one attempt of ``key`` unless it must wait; returns (allowed, blocked_until).

        The attempt is counted *before* the password is checked (and forgiven by :meth:`clear` on
        success), and the wait it earns is set in the same statement, so of many parallel attempts only
        as many as the policy allows get through.
        """
        t = Throttle.__table__
        failures = case((t.c.updated_at < now - policy.forget_after, 1), else_=t.c.failures + 1)
        steps = policy.schedule()
        blocked = case(*[(failures == n, now + wait) for n, wait in steps],
                       (failures > steps[-1][0], now + policy.cap), else_=None)
        stmt = _insert(Throttle).values(key=key, failures=1, updated_at=now,
                                        blocked_until=now + policy.wait(1) if policy.wait(1) else None)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.key],
            set_={"failures": failures, "blocked_until": blocked, "updated_at": now},
            where=(t.c.blocked_until.is_(None)) | (t.c.blocked_until <= now),
        ).returning(t.c.failures)
        counted = db.session.execute(stmt).first()
        if counted is not None:
            db.session.commit()
            return True, None
        blocked_until = db.session.execute(select(t.c.blocked_until).where(t.c.key == key)).scalar()
        db.session.commit()
        return False, blocked_until

    def release(self, key: str, policy: WaitPolicy) -> None:
        """Take back one attempt counted by :meth:`reserve` (it was no failure); below the policy's threshold
        the wait it may have started is lifted too. One statement, like :meth:`reserve`."""
        t = Throttle.__table__
        failures = case((t.c.failures > 0, t.c.failures - 1), else_=0)
        db.session.execute(update(t).where(t.c.key == key).values(
            failures=failures,
            blocked_until=case((failures < policy.threshold, None), else_=t.c.blocked_until)))
        db.session.commit()

    def clear(self, key: str) -> None:
        db.session.execute(update(Throttle).where(Throttle.key == key).values(failures=0, blocked_until=None))
        db.session.commit()

    def find_prefix(self, prefix: str, limit: int = 1000) -> list[dict]:
        """The throttle counters whose key starts with ``prefix`` (a login's per-address keys share one, see
        :func:`idp.throttling.service.pair_prefix`): ``{"key", "failures", "blocked_until"}`` each, by key."""
        rows = db.session.execute(select(Throttle.key, Throttle.failures, Throttle.blocked_until)
                                  .where(Throttle.key.startswith(prefix, autoescape=True))
                                  .order_by(Throttle.key).limit(limit)).all()
        return [{"key": key, "failures": failures, "blocked_until": until} for key, failures, until in rows]

    def hit(self, key: str, limit: int, window: int, now: datetime) -> bool:
        """One hit of ``key`` in the current ``window``-second window; False once past ``limit``."""
        return self.add(key, 1, window, now) <= limit

    def add(self, key: str, amount: int, window: int, now: datetime, *, keep: int = 0) -> int:
        """Add ``amount`` to ``key``'s count in the ``window``-second window ``now`` falls in (windows start at
        multiples of ``window`` since the epoch), kept ``keep`` seconds after the window ends; returns the new
        count. One statement."""
        name, expires = _bucket(key, window, now)
        expires += timedelta(seconds=keep)
        t = RateCounter.__table__
        stmt = _insert(RateCounter).values(key=name, hits=amount, expires_at=expires)
        stmt = stmt.on_conflict_do_update(index_elements=[t.c.key],
                                          set_={"hits": t.c.hits + amount}).returning(t.c.hits)
        hits = db.session.execute(stmt).scalar_one()
        if secrets.randbelow(200) == 0:  # now and then, forget windows that have passed
            db.session.execute(delete(RateCounter).where(RateCounter.expires_at < now))
        db.session.commit()
        return hits

    def count(self, key: str, window: int, now: datetime) -> int:
        """``key``'s count in the ``window``-second window ``now`` falls in (0 if none)."""
        name, _expires = _bucket(key, window, now)
        return db.session.execute(select(RateCounter.hits).where(RateCounter.key == name)).scalar() or 0


def _bucket(key: str, window: int, now: datetime) -> tuple[str, datetime]:
    seconds = int((now - _EPOCH).total_seconds())
    return f"{key}:{window}:{seconds // window}", now + timedelta(seconds=window - seconds % window)
