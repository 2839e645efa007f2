"""Admission control for password checks: how much bcrypt work a worker takes on at once, and who goes first.

A sign-in costs one or two bcrypt checks (a quarter of a second of CPU each at cost 12) whether or not the
login exists. A credential-stuffing flood — wrong passwords for thousands of logins from thousands of
addresses — slips under the per-login and per-address limits (:mod:`idp.throttling`), and unchecked it would
keep every core hashing: real customers would wait tens of seconds and UserInfo and the token endpoint would
slow for every portal. So each worker runs password checks in three **lanes**, each with its own slots (checks
running at once) and its own queue:

* ``priority``: an attempt from a browser holding a device cookie for the login it types (it signed in as that
  login before: :mod:`idp.passwords.devices`). The flood has no such cookies, so it never reaches this lane.
* ``retry``: the next try of a login from the address that was just told to wait, carrying the retry ticket
  that page gave it. A customer on a new device gets in on the second try; a flood of ever-new logins does not
  come back. The oldest tickets go first (see :class:`_Lane`), so a customer who keeps trying overtakes a
  flood that resubmits its pages.
* ``normal``: everything else. What the flood fills.

An attempt waits in its lane's queue for a slot, first come first served (the retry lane: oldest ticket first),
at most the lane's ``wait`` seconds;
when the queue is full, or the wait is over, it is **shed**: refused before anything about the login is looked
up (the same answer, 429 with ``Retry-After``, for a login that exists and one that does not), nothing written
to the database. Waiting attempts hold only a sleeping thread, which slows the flood down (each of its
connections gets one answer per ``wait``) at no CPU cost; the worker keeps threads for everything else
(``gunicorn.conf.py`` sizes them from the queue).

Shedding is reported once per **episode** (it begins with the first refusal, and ends after
:data:`QUIET` seconds without one): a log line and the ``idp_signin_shedding`` gauge at both ends,
``idp_signin_shed_total`` per refusal, and in the audit one ``signin.shedding_started`` for every instance
sharing the throttle store (Redis or the database decides who records it) and one ``signin.shedding_stopped``
per worker with what it refused — never a row per refused attempt. That shared store is also the instances'
common view of the flood: every few seconds each shedding worker adds its refusals per lane to a per-minute
count there, which :func:`shed_per_minute` (``idp shedding``) reads for all instances at once.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterator, Protocol

from idp.ops.metrics import SHED, SHEDDING

log = logging.getLogger("idp.signin")

PRIORITY, RETRY, NORMAL = "priority", "retry", "normal"
LANES = (PRIORITY, RETRY, NORMAL)
#: Seconds without a refusal that end a shedding episode.
QUIET = 60.0
#: Seconds between a worker's tallies of its refusals in the shared store, during an episode.
FLUSH = 5.0
#: Seconds the per-minute tallies are kept after their minute (what ``idp shedding`` can look back on).
TALLY_KEPT = 24 * 3600


@dataclass(frozen=True)
class LanePolicy:
    #: Checks running at once in this lane, per worker.
    slots: int = 1
    #: Attempts that may wait for a slot, per worker; past that they are shed at once.
    queue: int = 4
    #: Seconds an attempt waits for a slot before it is shed.
    wait: float = 5.0


@dataclass(frozen=True)
class AdmissionPolicy:
    normal: LanePolicy = LanePolicy(slots=1, queue=48, wait=3.0)
    retry: LanePolicy = LanePolicy(slots=1, queue=4, wait=5.0)
    priority: LanePolicy = LanePolicy(slots=1, queue=4, wait=10.0)
    #: ``Retry-After`` of a shed attempt, in seconds: when the customer is asked to try again.
    retry_after: int = 3

    def lane(self, name: str) -> LanePolicy:
        return {PRIORITY: self.priority, RETRY: self.retry, NORMAL: self.normal}[name]


class _Waiter:
    __slots__ = ("turn", "granted")

    def __init__(self):
        self.turn = threading.Event()
        self.granted = False  # set with ``turn``: a slot was handed over (else it was pushed out of the queue)


class _Lane:
    """Slots handed over in the order of the waiters' *rank*, the lowest first: the moment they arrived
    (first come, first served), or in the retry lane the moment their ticket was given — so the longest-refused
    customer goes first, and when the queue is full a newcomer with an older rank takes the place of the
    youngest waiter, who is shed."""

    def __init__(self, policy: LanePolicy):
        self.policy = policy
        self._lock = threading.Lock()
        self._free = policy.slots
        self._waiting: list[tuple[float, int, _Waiter]] = []  # a heap
        self._arrivals = itertools.count()  # breaks ties of rank: first come, first served

    def acquire(self, rank: float) -> bool:
        with self._lock:
            if self._free > 0 and not self._waiting:
                self._free -= 1
                return True
            if len(self._waiting) >= self.policy.queue:
                youngest = max(self._waiting, default=None)
                if youngest is None or youngest[0] <= rank:
                    return False
                self._waiting.remove(youngest)
                heapq.heapify(self._waiting)
                youngest[2].turn.set()  # not granted: shed
            entry = (rank, next(self._arrivals), _Waiter())
            heapq.heappush(self._waiting, entry)
        waiter = entry[2]
        waiter.turn.wait(self.policy.wait)
        with self._lock:
            if waiter.turn.is_set():  # handed a slot (perhaps just as the wait ran out: ours all the same) or out
                return waiter.granted
            self._waiting.remove(entry)
            heapq.heapify(self._waiting)
            return False

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                waiter = heapq.heappop(self._waiting)[2]
                waiter.granted = True
                waiter.turn.set()
            else:
                self._free += 1

    def state(self) -> tuple[int, int]:
        """(checks running, attempts waiting)."""
        with self._lock:
            return self.policy.slots - self._free, len(self._waiting)


class ShedSink(Protocol):
    """Where the flood watch tells what it saw (:class:`AuditSink` in the app; a list in tests)."""

    def started(self, at: datetime) -> None:
        """An episode began in this worker."""

    def tally(self, at: datetime, refused: dict[str, int]) -> None:
        """Attempts refused per lane since the last tally."""

    def stopped(self, at: datetime, seconds: int, refused: dict[str, int]) -> None:
        """The episode ended in this worker: how long it lasted and what it refused per lane."""


@dataclass
class _Episode:
    started: datetime
    last: float  # time.monotonic() of the latest refusal
    refused: dict[str, int] = field(default_factory=dict)


class FloodWatch:
    """Turns refusals into episodes: the metrics move per refusal; the log and the sink hear of each episode from
    a thread of its own (started with it, ending with it), which also hands the sink the refusals every
    ``flush`` seconds — so a refused request does no extra work."""

    def __init__(self, clock, sink: ShedSink | None = None, *, quiet: float = QUIET, flush: float = FLUSH):
        self._clock = clock
        self._sink = sink
        self._quiet = quiet
        self._flush = flush
        self._lock = threading.Lock()
        self._episode: _Episode | None = None

    @property
    def shedding(self) -> bool:
        with self._lock:
            return self._episode is not None

    def shed(self, lane: str) -> None:
        SHED.labels(lane=lane).inc()
        with self._lock:
            episode = self._episode
            starting = episode is None
            if starting:
                episode = self._episode = _Episode(self._clock.now(), time.monotonic())
                SHEDDING.set(1)
            episode.last = time.monotonic()
            episode.refused[lane] = episode.refused.get(lane, 0) + 1
        if starting:
            try:
                threading.Thread(target=self._follow, args=(episode,), name="idp-shedding", daemon=True).start()
            except RuntimeError:  # no thread to be had: the next refusal tries again
                log.exception("could not follow a sign-in shedding episode")
                with self._lock:
                    if self._episode is episode:
                        self._episode = None
                        SHEDDING.set(0)

    def _follow(self, episode: _Episode) -> None:
        log.warning("sign-in shedding started: password checks are over this worker's capacity; attempts are "
                    "refused with 429 (lanes: priority for known devices, retry for tickets, normal)")
        self._tell("started", episode.started)
        told: dict[str, int] = {}
        while True:
            with self._lock:
                left = episode.last + self._quiet - time.monotonic()
                refused = dict(episode.refused)
                over = left <= 0
                if over:  # (a new episode sets the gauge again under this lock)
                    self._episode = None
                    SHEDDING.set(0)
            fresh = {lane: count - told.get(lane, 0) for lane, count in refused.items() if count > told.get(lane, 0)}
            if fresh:
                self._tell("tally", self._clock.now(), fresh)
                told = refused
            if over:
                break
            time.sleep(min(left, self._flush))
        ended = self._clock.now()
        seconds = max(0, round((ended - episode.started).total_seconds() - self._quiet))
        log.warning("sign-in shedding stopped after %s s: %s attempts refused (%s)", seconds,
                    sum(refused.values()), ", ".join(f"{lane} {n}" for lane, n in sorted(refused.items())))
        self._tell("stopped", ended, seconds, refused)

    def _tell(self, what: str, *args) -> None:
        if self._sink is None:
            return
        try:
            getattr(self._sink, what)(*args)
        except Exception:  # the store or the database is down: the log lines say it all the same
            log.exception("could not record sign-in shedding (%s)", what)


class Admission:
    """A worker's lanes (made in each worker after the fork is fine: nothing here is held across it)."""

    def __init__(self, policy: AdmissionPolicy, watch: FloodWatch):
        self.policy = policy
        self.watch = watch
        self._lanes = {name: _Lane(policy.lane(name)) for name in LANES}
        self._lock = threading.Lock()
        self._holders: set[str] = set()  # logins with an attempt in the priority lane (waiting or checked)

    @contextmanager
    def admit(self, lane: str, rank: float | None = None, *, holder: str | None = None) -> Iterator[bool]:
        """``with admission.admit(lane) as admitted:`` — True once a slot of ``lane`` is ours (for the body
        of the ``with``); False when the attempt is shed (counted for the flood watch). ``rank``: its place in
        the queue, the lowest first (default: now, on the monotonic clock — first come, first served); the
        retry lane's attempts give their ticket's moment, all in one lane on one clock. ``holder``: the login
        of a priority attempt — one login has one attempt in that lane at a time, its others go to the normal
        lane, so whoever holds a genuine device cookie cannot fill the lane with it."""
        held = False
        if lane == PRIORITY and holder is not None:
            with self._lock:
                if holder in self._holders:
                    lane = NORMAL
                else:
                    self._holders.add(holder)
                    held = True
        try:
            chosen = self._lanes[lane]
            if not chosen.acquire(time.monotonic() if rank is None else rank):
                self.watch.shed(lane)
                yield False
                return
            try:
                yield True
            finally:
                chosen.release()
        finally:
            if held:
                with self._lock:
                    self._holders.discard(holder)

    def state(self) -> dict[str, tuple[int, int]]:
        """Per lane: (checks running, attempts waiting)."""
        return {name: lane.state() for name, lane in self._lanes.items()}


class AuditSink:
    """The flood watch's :class:`ShedSink` in a Flask app, each call in an app context of its own (the watch's
    thread has none): the episode's start in the audit once for every worker and instance sharing the throttle
    store (the first to claim it within :data:`QUIET` seconds writes it), the refusals added up per lane and
    minute in that store (what :func:`shed_per_minute` and ``idp shedding`` read), and each worker's stop."""

    def __init__(self, app):
        self._app = app

    def _store(self):
        return self._app.extensions["idp"].throttler.store

    def started(self, at: datetime) -> None:
        with self._app.app_context():
            if self._store().hit("signin:shedding", 1, int(QUIET), at):
                self._record("signin.shedding_started", at)

    def tally(self, at: datetime, refused: dict[str, int]) -> None:
        with self._app.app_context():
            for lane, count in sorted(refused.items()):
                self._store().add(f"signin:shed:{lane}", count, 60, at, keep=TALLY_KEPT)

    def stopped(self, at: datetime, seconds: int, refused: dict[str, int]) -> None:
        with self._app.app_context():
            self._record("signin.shedding_stopped", at, seconds=seconds, refused=refused)

    @staticmethod
    def _record(event: str, at: datetime, **details) -> None:
        from idp.audit import record
        from idp.extensions import db

        record(event, at=at, **details)
        db.session.commit()


def shed_per_minute(store, now: datetime, minutes: int) -> list[dict]:
    """Sign-in attempts refused per lane in each of the last ``minutes`` minutes (the current one first), added
    up over every worker and instance sharing ``store`` (the throttle store). A worker tallies every
    :data:`FLUSH` seconds, so the current minute may lag by that much."""
    rows = []
    for back in range(minutes):
        moment = now - timedelta(minutes=back)
        rows.append({"minute": moment.replace(second=0, microsecond=0).isoformat() + "Z",
                     **{lane: store.count(f"signin:shed:{lane}", 60, moment) for lane in LANES}})
    return rows
