"""Admission control of password checks: the lanes' slots and queues, and shedding reported once per episode."""
import threading
import time

from prometheus_client import REGISTRY
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.passwords.admission import (NORMAL, PRIORITY, RETRY, Admission, AdmissionPolicy, FloodWatch, LanePolicy,
                                     audit_reporter)


def admission(clock, *, slots=1, queue=0, wait=5.0, report=None, quiet=60.0):
    lane = LanePolicy(slots=slots, queue=queue, wait=wait)
    return Admission(AdmissionPolicy(normal=lane, retry=lane, priority=lane),
                     FloodWatch(clock, report, quiet=quiet))


class Holder(threading.Thread):
    """Takes a slot of ``lane`` (or is shed) and keeps it until ``release`` is set."""

    def __init__(self, adm, lane=NORMAL):
        super().__init__(daemon=True)
        self.adm, self.lane = adm, lane
        self.admitted = None
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self):
        with self.adm.admit(self.lane) as admitted:
            self.admitted = admitted
            self.entered.set()
            if admitted:
                self.release.wait(10)


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def shed_count(lane):
    return REGISTRY.get_sample_value("idp_signin_shed_total", {"lane": lane}) or 0.0


def test_a_full_lane_sheds_at_once_when_its_queue_is_full_and_other_lanes_are_untouched(clock):
    adm = admission(clock, slots=1, queue=0)
    before = shed_count(NORMAL)
    holder = Holder(adm)
    holder.start()
    holder.entered.wait(5)
    assert holder.admitted is True
    started = time.monotonic()
    with adm.admit(NORMAL) as admitted:
        assert admitted is False
    assert time.monotonic() - started < 1  # no waiting when there is no room to wait
    assert shed_count(NORMAL) == before + 1
    for lane in (PRIORITY, RETRY):  # the flood fills one lane only
        with adm.admit(lane) as admitted:
            assert admitted is True
    holder.release.set()
    holder.join(5)
    with adm.admit(NORMAL) as admitted:
        assert admitted is True
    assert adm.state() == {PRIORITY: (0, 0), RETRY: (0, 0), NORMAL: (0, 0)}


def test_waiters_get_the_slot_first_come_first_served(clock):
    adm = admission(clock, slots=1, queue=3, wait=10)
    holder = Holder(adm)
    holder.start()
    holder.entered.wait(5)
    order, waiters = [], []
    for number in range(3):
        def wait(number=number):
            with adm.admit(NORMAL) as admitted:
                order.append((number, admitted))
        waiter = threading.Thread(target=wait, daemon=True)
        waiter.start()
        waiters.append(waiter)
        wait_until(lambda: adm.state()[NORMAL] == (1, number + 1))  # queued in this order
    with adm.admit(NORMAL) as admitted:  # the queue is full: the fourth is shed
        assert admitted is False
    holder.release.set()
    for waiter in waiters:
        waiter.join(5)
    assert order == [(0, True), (1, True), (2, True)]
    assert adm.state()[NORMAL] == (0, 0)


def test_a_waiter_is_shed_when_its_wait_is_over(clock):
    adm = admission(clock, slots=1, queue=5, wait=0.3)
    holder = Holder(adm)
    holder.start()
    holder.entered.wait(5)
    started = time.monotonic()
    with adm.admit(NORMAL) as admitted:
        assert admitted is False
    assert 0.25 <= time.monotonic() - started < 3
    assert adm.state()[NORMAL] == (1, 0)  # it left the queue
    holder.release.set()
    holder.join(5)
    assert adm.state()[NORMAL] == (0, 0)


def test_a_slot_is_given_back_when_the_check_raises(clock):
    adm = admission(clock, slots=1, queue=0)
    try:
        with adm.admit(NORMAL) as admitted:
            assert admitted
            raise RuntimeError("the database went away")
    except RuntimeError:
        pass
    assert adm.state()[NORMAL] == (0, 0)


def test_an_episode_is_reported_once_at_each_end(clock):
    reports = []
    adm = admission(clock, queue=0, report=lambda *args: reports.append(args), quiet=0.3)
    holder = Holder(adm)
    holder.start()
    holder.entered.wait(5)
    for _ in range(5):
        with adm.admit(NORMAL):
            pass
    with adm.admit(PRIORITY):  # admitted: not a refusal
        pass
    wait_until(lambda: reports)
    assert adm.watch.shedding and REGISTRY.get_sample_value("idp_signin_shedding") == 1
    wait_until(lambda: len(reports) == 2)
    assert not adm.watch.shedding and REGISTRY.get_sample_value("idp_signin_shedding") == 0
    (started, at1, details1, shared1), (stopped, _at2, details2, shared2) = reports
    assert (started, details1, shared1) == ("signin.shedding_started", {}, True) and at1 == clock.now()
    assert stopped == "signin.shedding_stopped" and shared2 is False and details2["refused"] == {NORMAL: 5}
    holder.release.set()
    holder.join(5)


def test_the_audit_has_one_start_for_every_worker_sharing_the_store_and_no_row_per_refusal(app, clock):
    """Two workers (two flood watches over one app's throttle store) shed at once: one
    ``signin.shedding_started`` between them, one ``signin.shedding_stopped`` each, nothing per refused attempt."""
    report = audit_reporter(app)
    workers = [admission(clock, queue=0, report=report, quiet=0.3) for _ in range(2)]
    holders = [Holder(adm) for adm in workers]
    for holder in holders:
        holder.start()
        holder.entered.wait(5)
    for adm in workers:
        for _ in range(10):
            with adm.admit(NORMAL):
                pass

    def events():
        with app.app_context():
            return [row.event for row in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]

    wait_until(lambda: events().count("signin.shedding_stopped") == 2)
    assert sorted(events()) == ["signin.shedding_started", "signin.shedding_stopped", "signin.shedding_stopped"]
    with app.app_context():
        stops = db.session.execute(select(AuditEvent).where(AuditEvent.event == "signin.shedding_stopped")).scalars()
        assert [row.details["refused"] for row in stops] == [{NORMAL: 10}, {NORMAL: 10}]
    for holder in holders:
        holder.release.set()
        holder.join(5)
