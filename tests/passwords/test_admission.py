"""Admission control of password checks: the lanes' slots and queues, and shedding reported once per episode."""
import json
import threading
import time
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.extensions import db
from idp.passwords.admission import (NORMAL, PRIORITY, RETRY, Admission, AdmissionPolicy, AuditSink, FloodWatch,
                                     LanePolicy, shed_per_minute)


def admission(clock, *, slots=1, queue=0, wait=5.0, sink=None, quiet=60.0, flush=5.0):
    lane = LanePolicy(slots=slots, queue=queue, wait=wait)
    return Admission(AdmissionPolicy(normal=lane, retry=lane, priority=lane),
                     FloodWatch(clock, sink, quiet=quiet, flush=flush))


class ListSink:
    def __init__(self):
        self.calls = []

    def started(self, at):
        self.calls.append(("started", at))

    def tally(self, at, refused):
        self.calls.append(("tally", refused))

    def stopped(self, at, seconds, refused):
        self.calls.append(("stopped", refused))


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


def test_an_episode_is_reported_once_at_each_end_with_its_refusals_tallied_meanwhile(clock):
    sink = ListSink()
    adm = admission(clock, queue=0, sink=sink, quiet=0.6, flush=0.1)
    holder = Holder(adm)
    holder.start()
    holder.entered.wait(5)
    for _ in range(5):
        with adm.admit(NORMAL):
            pass
    with adm.admit(PRIORITY):  # admitted: not a refusal
        pass
    def tallied():
        return sum(refused[NORMAL] for what, refused in list(sink.calls) if what == "tally")

    wait_until(lambda: tallied() == 5)
    assert adm.watch.shedding and REGISTRY.get_sample_value("idp_signin_shedding") == 1
    for _ in range(2):  # later refusals: tallied once, in a later tally
        with adm.admit(NORMAL):
            pass
    wait_until(lambda: sink.calls[-1][0] == "stopped")
    assert not adm.watch.shedding and REGISTRY.get_sample_value("idp_signin_shedding") == 0
    assert sink.calls[0] == ("started", clock.now()) and sink.calls[-1] == ("stopped", {NORMAL: 7})
    tallies = sink.calls[1:-1]
    assert {what for what, _ in tallies} == {"tally"} and len(tallies) >= 2 and tallied() == 7
    holder.release.set()
    holder.join(5)


def test_workers_sharing_the_store_write_one_start_and_add_up_their_refusals(app, clock, services):
    """Two workers (two flood watches over one app's throttle store) shed at once: one
    ``signin.shedding_started`` between them, one ``signin.shedding_stopped`` each, nothing per refused attempt;
    their refusals added up per minute in the store, as ``idp shedding`` shows them."""
    sink = AuditSink(app)
    workers = [admission(clock, queue=0, sink=sink, quiet=0.3, flush=0.1) for _ in range(2)]
    holders = [Holder(adm) for adm in workers]
    for holder in holders:
        holder.start()
        holder.entered.wait(5)
    for adm, count in zip(workers, (10, 7)):
        for _ in range(count):
            with adm.admit(NORMAL):
                pass

    def events():
        with app.app_context():
            return [row.event for row in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]

    wait_until(lambda: events().count("signin.shedding_stopped") == 2)
    assert sorted(events()) == ["signin.shedding_started", "signin.shedding_stopped", "signin.shedding_stopped"]
    with app.app_context():
        stops = db.session.execute(select(AuditEvent).where(AuditEvent.event == "signin.shedding_stopped")).scalars()
        assert sorted(row.details["refused"][NORMAL] for row in stops) == [7, 10]
        minutes = shed_per_minute(services.throttler.store, clock.now(), 2)
    assert [(row[NORMAL], row[RETRY], row[PRIORITY]) for row in minutes] == [(17, 0, 0), (0, 0, 0)]
    assert minutes[0]["minute"] == clock.now().replace(second=0, microsecond=0).isoformat() + "Z"
    for holder in holders:
        holder.release.set()
        holder.join(5)


def test_idp_shedding_shows_the_refusals_of_every_instance(app, clock, services, run_cli):
    with app.app_context():
        services.throttler.store.add(f"signin:shed:{NORMAL}", 1200, 60, clock.now())
        services.throttler.store.add(f"signin:shed:{RETRY}", 3, 60, clock.now() - timedelta(minutes=1))
    result = run_cli("shedding", "--minutes", "3", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["shedding"] is True
    assert [(row[NORMAL], row[RETRY], row[PRIORITY]) for row in answer["minutes"]] == [(1200, 0, 0), (0, 3, 0),
                                                                                        (0, 0, 0)]
    plain = run_cli("shedding", "--minutes", "1")
    assert plain.output.splitlines()[0] == "shedding: yes" and "1200" in plain.output
    clock.advance(minutes=3)
    assert run_cli("shedding").output.splitlines()[0] == "shedding: no"


def test_the_lowest_rank_goes_first_and_pushes_the_youngest_out_of_a_full_queue(clock):
    """The retry lane ranks attempts by when their ticket was given: the longest-refused customer first, and a
    full queue makes room for an older ticket by shedding the youngest."""
    adm = admission(clock, slots=1, queue=2, wait=10)
    holder = Holder(adm, RETRY)
    holder.start()
    holder.entered.wait(5)
    results, threads = {}, {}

    def attempt(rank):
        with adm.admit(RETRY, rank) as admitted:
            results[rank] = (admitted, len([r for r in results if results[r][0]]))

    def start(rank, queued):
        threads[rank] = threading.Thread(target=attempt, args=(rank,), daemon=True)
        threads[rank].start()
        wait_until(lambda: adm.state()[RETRY] == (1, queued) or rank in results)

    start(100, 1)
    start(50, 2)
    start(70, 2)  # the queue is full: 100, the youngest, is pushed out
    wait_until(lambda: 100 in results)
    assert results[100] == (False, 0)
    started = time.monotonic()
    with adm.admit(RETRY, 200) as admitted:  # younger than everyone queued: shed at once
        assert admitted is False and time.monotonic() - started < 1
    holder.release.set()
    for rank in (50, 70):
        threads[rank].join(5)
    assert results[50] == (True, 0) and results[70] == (True, 1)  # 50 before 70


def test_one_login_has_one_attempt_in_the_priority_lane_at_a_time(clock):
    """A second attempt of a login already in the priority lane goes to the normal lane: a genuine device
    cookie, replayed, cannot fill the lane."""
    adm = admission(clock, slots=1, queue=0)
    inside = threading.Event()
    leave = threading.Event()

    def first():
        with adm.admit(PRIORITY, holder="client@example.com") as admitted:
            assert admitted
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=first, daemon=True)
    thread.start()
    inside.wait(5)
    normal = Holder(adm)  # the normal lane full too
    normal.start()
    normal.entered.wait(5)
    with adm.admit(PRIORITY, holder="client@example.com") as admitted:
        assert admitted is False  # sent to the normal lane, which is full
    assert adm.state()[PRIORITY] == (1, 0)
    leave.set()
    thread.join(5)
    with adm.admit(PRIORITY, holder="client@example.com") as admitted:  # its turn again
        assert admitted is True
    normal.release.set()
    normal.join(5)
