"""Issue 23 item 3: delivery workers that scale.

Several dispatchers split the due messages instead of all reading the same batch and racing on it, and
each pending «Забыли пароль?» request is bcrypt-hashed by one worker only. The tests with concurrent
workers always run on PostgreSQL (that is where ``FOR UPDATE SKIP LOCKED`` matters): a scratch database
made for the module on the server of :func:`tests.postgres.server_url` and dropped afterwards (without a
reachable server: skipped, failed under ``CI=true``), whatever database the rest of the suite runs on.
Each worker is a thread with an app of its own (its own engine and connections) and a real clock.
"""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from idp.accounts import create_account
from idp.app import create_app
from idp.audit import Origin
from idp.delivery import Courier, Delivery, Dispatcher, enqueue
from idp.delivery.models import SENT
from idp.extensions import db
from idp.passwords.hashing import PasswordHasher
from idp.passwords.models import ResetRequest, TemporaryPassword
from idp.passwords.reset import CLAIM_LEASE, issue_pending, request_temporary_password
from idp.schema import create_schema
from idp.settings import Settings
from tests.postgres import admin_connection, scratch_database

WORKERS = 4
MESSAGES = 1000
REQUESTS = 40


class CountingTransport:
    """A transport as the courier calls it: counts what it was handed (taking a moment, as a provider does)."""

    def __init__(self):
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, message):
        time.sleep(0.001)
        with self.lock:
            self.sent.append(message.recipient)
            return f"provider-{message.recipient}-{len(self.sent)}"


class CountingHasher(PasswordHasher):
    """The real hasher, counting its bcrypt hashes."""

    def __init__(self, rounds, pepper, fail=False):
        super().__init__(rounds, pepper)
        self.hashes = 0
        self.fail = fail

    def hash(self, password: str) -> str:
        self.hashes += 1
        if self.fail:
            raise RuntimeError("the worker died while hashing")
        return super().hash(password)


@dataclasses.dataclass
class Worker:
    app: object
    transport: CountingTransport
    hasher: CountingHasher
    #: Rows claimed by each claim statement of this worker (queued → sending).
    claims: list[int] = dataclasses.field(default_factory=list)


@pytest.fixture(scope="module")
def postgres_url():
    with scratch_database("idp_scaling") as url:
        yield url


@pytest.fixture
def workers(postgres_url, tmp_path):
    """``workers(k)``: k apps on one fresh schema of the scratch PostgreSQL database, each with its own
    counting transport (through the real courier) and counting hasher."""
    made: list[Worker] = []

    def _make(k: int = WORKERS) -> list[Worker]:
        settings = Settings.from_env(environ={}, secret_key="scaling-secret-" + "s" * 32,
                                     instance_dir=str(tmp_path / "instance"), database_url=postgres_url,
                                     keys_dir=str(tmp_path / "keys"), bcrypt_rounds=4,
                                     issuer="https://idp.example.test", delivery_mode="worker")
        for index in range(k):
            transport = CountingTransport()
            app = create_app(settings, courier=Courier({"email": transport, "sms": transport}))
            services = app.extensions["idp"]
            services.hasher = CountingHasher(settings.bcrypt_rounds, settings.password_pepper)
            worker = Worker(app, transport, services.hasher)
            if index == 0:
                with app.app_context():
                    db.metadata.drop_all(db.engine)
                    create_schema()
            _count_claims(app, worker.claims)
            made.append(worker)
        return made

    yield _make
    for worker in made:
        with worker.app.app_context():
            db.session.remove()
            db.engine.dispose()


def _count_claims(app, claims: list[int]) -> None:
    """Record how many rows each claim statement of this app's engine took (queued → sending)."""
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "after_cursor_execute")
    def _claimed(conn, cursor, statement, parameters, context, executemany):
        values = set(parameters.values()) if isinstance(parameters, dict) else set()
        if "UPDATE DELIVERIES SET STATUS" in statement.upper() and {"queued", "sending"} <= values:
            claims.append(cursor.rowcount)


def _run_all(workers: list[Worker], loop) -> None:
    """Run ``loop(worker)`` in one thread per worker, started together; fail on any error."""
    barrier = threading.Barrier(len(workers))
    errors = []

    def _thread(worker):
        try:
            with worker.app.app_context():
                barrier.wait()
                loop(worker)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=_thread, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker did not finish"
    assert not errors, errors


def _queue(app, count: int) -> None:
    with app.app_context():
        services = app.extensions["idp"]
        for index in range(count):
            enqueue(services, "temporary_password", channel="email", recipient=f"m{index}@example.com",
                    account_id=None,
                    params={"password": "Abc12345", "login_url": "https://idp.example.test/login"})
        db.session.commit()


def _dispatch_until_empty(worker: Worker) -> None:
    dispatcher = Dispatcher(worker.app.extensions["idp"])
    while dispatcher.run_due(limit=25).as_dict() != {"sent": 0, "retrying": 0, "dead": 0}:
        pass


def test_four_dispatchers_split_a_thousand_messages_and_send_each_once(workers):
    crew = workers(WORKERS)
    _queue(crew[0].app, MESSAGES)
    started = time.monotonic()

    _run_all(crew, _dispatch_until_empty)

    received = [recipient for worker in crew for recipient in worker.transport.sent]
    assert sorted(received) == sorted(f"m{index}@example.com" for index in range(MESSAGES))  # each once
    assert all(worker.transport.sent for worker in crew), [len(w.transport.sent) for w in crew]  # split
    with crew[0].app.app_context():
        assert db.session.execute(select(func.count()).where(Delivery.status == SENT)).scalar() == MESSAGES
    # Split, not raced: every claim took rows no other dispatcher had read; a claim that came back empty
    # is only each dispatcher's last, which found the queue empty.
    claimed = [rows for worker in crew for rows in worker.claims]
    assert sum(claimed) == MESSAGES
    assert claimed.count(0) <= WORKERS, f"{claimed.count(0)} claims lost a race for rows others had"
    assert time.monotonic() - started < 60


def test_a_dispatcher_skips_rows_another_holds_instead_of_waiting(workers):
    [worker] = workers(1)
    _queue(worker.app, 20)
    with worker.app.app_context():
        first = sorted(db.session.execute(select(Delivery.id)).scalars())[:10]
    holder = admin_connection(make_url(worker.app.config["SQLALCHEMY_DATABASE_URI"])
                              .render_as_string(hide_password=False))
    holder.autocommit = False
    try:
        # Another dispatcher in the middle of its claim: the ten oldest rows are locked.
        holder.execute("SELECT id FROM deliveries WHERE id = ANY(%s) FOR UPDATE", (first,))
        done = threading.Event()

        def _pass():
            with worker.app.app_context():
                Dispatcher(worker.app.extensions["idp"]).run_due(limit=5)
                db.session.remove()
            done.set()

        thread = threading.Thread(target=_pass)
        thread.start()
        assert done.wait(timeout=10), "the dispatcher waited for rows another dispatcher holds"
    finally:
        holder.rollback()
        holder.close()
        thread.join(timeout=30)
    assert sorted(worker.transport.sent) == sorted(f"m{index}@example.com" for index in range(10, 15))


def test_each_pending_reset_request_is_hashed_once_by_four_workers(workers):
    crew = workers(WORKERS)
    with crew[0].app.app_context():
        services = crew[0].app.extensions["idp"]
        for index in range(REQUESTS):
            create_account(email=f"client{index}@example.com", now=services.clock.now())
        db.session.commit()
        for index in range(REQUESTS):  # «Забыли пароль?» from as many customers
            request_temporary_password(f"client{index}@example.com", services,
                                       Origin(f"198.51.100.{index + 1}", "test"))
        assert db.session.execute(select(func.count()).select_from(ResetRequest)).scalar() == REQUESTS
        crew[0].hasher.hashes = 0

    def _worker(worker: Worker) -> None:  # what `idp deliveries run` does: issue pending, then send due
        services = worker.app.extensions["idp"]
        dispatcher = Dispatcher(services)
        while True:
            issued = issue_pending(services, limit=5)
            report = dispatcher.run_due(limit=5)
            if not issued and not report.sent:
                return

    _run_all(crew, _worker)

    assert sum(worker.hasher.hashes for worker in crew) == REQUESTS, [w.hasher.hashes for w in crew]
    with crew[0].app.app_context():
        assert db.session.execute(select(func.count()).select_from(TemporaryPassword)).scalar() == REQUESTS
        assert db.session.execute(select(func.count()).select_from(ResetRequest)).scalar() == 0
    received = [recipient for worker in crew for recipient in worker.transport.sent]
    assert sorted(received) == sorted(f"client{index}@example.com" for index in range(REQUESTS))


def test_a_request_whose_worker_died_is_taken_by_another_after_the_lease(make_app, clock, make_account):
    """On the suite's database (SQLite or PostgreSQL): a worker claims a request and dies while hashing;
    a second worker leaves it alone while the first one's lease holds, then takes it, hashing once."""
    from tests.delivery.conftest import ScriptedTransport

    transport = ScriptedTransport()
    app = make_app(courier=Courier({"email": transport, "sms": transport}), delivery_mode="worker")
    make_account(email="client@example.com")
    with app.app_context():
        services = app.extensions["idp"]
        request_temporary_password("client@example.com", services, Origin("198.51.100.7", "test"))
        pepper = services.settings.password_pepper
        dying = dataclasses.replace(services, hasher=CountingHasher(4, pepper, fail=True))
        with pytest.raises(RuntimeError):
            issue_pending(dying)
        db.session.rollback()  # the process is gone; its claim stays in the database
        survivor = dataclasses.replace(services, hasher=CountingHasher(4, pepper))

        assert issue_pending(survivor) == []  # still held by the first worker: not hashed a second time
        assert survivor.hasher.hashes == 0
        clock.advance(seconds=CLAIM_LEASE.total_seconds() - 1)
        assert issue_pending(survivor) == []

        clock.advance(seconds=2)  # the lease has passed: the first worker is presumed dead
        [message] = issue_pending(survivor)
        assert survivor.hasher.hashes == 1
        assert message.recipient == "client@example.com"
        assert db.session.execute(select(func.count()).select_from(ResetRequest)).scalar() == 0
        assert db.session.execute(select(func.count()).select_from(TemporaryPassword)).scalar() == 1
        assert Dispatcher(survivor).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
    assert [m.recipient for m in transport.sent] == ["client@example.com"]


def test_a_long_batch_stays_with_its_dispatcher_while_it_works(make_app, clock):
    """On the suite's database: a slow provider (three minutes a message, in a frozen clock) makes a batch
    outlast the five-minute lease it was claimed with; the dispatcher renews it as it goes, so another
    dispatcher running meanwhile neither sends those messages nor reaps them as abandoned."""
    from tests.delivery.conftest import ScriptedTransport

    others = ScriptedTransport()
    other_app = None

    class SlowTransport(ScriptedTransport):
        def send(self, message):
            clock.advance(minutes=3)
            with other_app.app_context():  # another dispatcher's pass while this one waits on the provider
                assert Dispatcher(other_app.extensions["idp"]).run_due().as_dict() == \
                    {"sent": 0, "retrying": 0, "dead": 0}
                db.session.remove()
            return super().send(message)

    slow = SlowTransport()
    app = make_app(courier=Courier({"email": slow, "sms": slow}), delivery_mode="worker")
    other_app = make_app(courier=Courier({"email": others, "sms": others}), delivery_mode="worker")
    with app.app_context():
        services = app.extensions["idp"]
        for index in range(3):
            enqueue(services, "temporary_password", channel="email", recipient=f"m{index}@example.com",
                    account_id=None, params={"password": "Abc12345", "login_url": "https://x.test/login"})
        db.session.commit()
        assert Dispatcher(services).run_due().as_dict() == {"sent": 3, "retrying": 0, "dead": 0}
        assert db.session.execute(select(func.count()).where(Delivery.status == SENT)).scalar() == 3
    assert [m.recipient for m in slow.sent] == ["m0@example.com", "m1@example.com", "m2@example.com"]
    assert others.sent == []
