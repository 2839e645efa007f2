"""IDP_SECRET_KEY rotated while two provider instances (real gunicorn processes, one database) serve traffic:
no failed request, no lost message, every client still authenticates.

The rotation as the README tells it, one instance at a time behind a load balancer (emulated here: it stops
sending an instance requests, waits for those in flight, and the instance is restarted):

1. every instance restarted with the new key accepted (``IDP_PREVIOUS_SECRET_KEYS=<new>``), still signing with
   the old one — so no instance ever meets a value made under a key it does not know;
2. every instance restarted with ``IDP_SECRET_KEY=<new>``, ``IDP_PREVIOUS_SECRET_KEYS=<old>``;
3. ``idp secrets rekey``;
4. every instance restarted without the old key.

Throughout, clients authenticate in a loop (client_credentials: a client sealed under the old key, one of the
first format, and one made mid-rotation), a signed-in customer's browser opens «Личный кабинет» on either
instance, forms are posted to the instance that did not render them (CSRF tokens), a ``prompt=login``
authorization request asked of one instance is signed in to on the other (the re-authentication marker), and
messages queued under the old key (an outbox message and «Забыли пароль?» requests) are delivered by the
delivery worker.

On SQLite (a file both instances share) and, with ``IDP_TEST_DATABASE_URL`` on PostgreSQL, in a scratch
database on that server.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urljoin

import pytest
import requests

from tests.conftest import Mailbox
from tests.http import codes
from tests.multi_instance.conftest import REDIRECT_URI, Instance, _start, _stop, _wait_ready, run_idp
from tests.multi_instance.test_two_instances import authorization, code_from
from tests.postgres import scratch_database

OLD = "rotation-old-secret-" + "o" * 32
NEW = "rotation-new-secret-" + "n" * 32
PASSWORD = "Polis2026"
CUSTOMER = "customer@example.com"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def database_url(tmp_path):
    test_url = os.environ.get("IDP_TEST_DATABASE_URL", "")
    if not test_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'idp.sqlite3'}"
        return
    with scratch_database("idp_rotation") as url:
        yield url


def token(instance: Instance, client_id: str, secret: str) -> requests.Response:
    """A client_credentials token request, on a connection of its own."""
    return requests.post(instance.url + "/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(client_id, secret), timeout=10)


class Balancer:
    """A load balancer: requests go round-robin to the instances in service; one is taken out of service
    (no new requests, those in flight finished) before it is restarted."""

    def __init__(self, instances: list[Instance]):
        self.serving = list(instances)
        self.in_flight: dict[str, int] = {}
        self.condition = threading.Condition()
        self.turn = itertools.count()

    def take(self) -> Instance:
        with self.condition:
            instance = self.serving[next(self.turn) % len(self.serving)]
            self.in_flight[instance.name] = self.in_flight.get(instance.name, 0) + 1
            return instance

    def done(self, instance: Instance) -> None:
        with self.condition:
            self.in_flight[instance.name] -= 1
            self.condition.notify_all()

    def drain(self, instance: Instance) -> None:
        with self.condition:
            self.serving = [i for i in self.serving if i.name != instance.name]
            self.condition.wait_for(lambda: not self.in_flight.get(instance.name))

    def serve(self, instance: Instance) -> None:
        with self.condition:
            self.serving.append(instance)


class ClientTraffic(threading.Thread):
    """Clients asking for tokens (client_credentials) through the balancer until stopped; every answer but
    200 with a token is a failure."""

    def __init__(self, balancer: Balancer, clients: dict[str, str]):
        super().__init__(daemon=True)
        self.balancer, self.clients = balancer, clients
        self.stopped = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.by_instance: dict[str, int] = {}
        self.by_client: dict[str, int] = {}

    def run(self) -> None:
        for n in itertools.count():
            if self.stopped.is_set():
                return
            names = list(self.clients)  # clients registered meanwhile too
            client_id = names[n % len(names)]
            instance = self.balancer.take()
            try:
                answer = token(instance, client_id, self.clients[client_id])
                if answer.status_code == 200 and answer.json().get("access_token"):
                    self.ok += 1
                    self.by_instance[instance.name] = self.by_instance.get(instance.name, 0) + 1
                    self.by_client[client_id] = self.by_client.get(client_id, 0) + 1
                else:
                    self.failures.append(
                        f"{instance.name} {client_id}: {answer.status_code} {answer.text[:200]}")
            except requests.RequestException as exc:
                self.failures.append(f"{instance.name} {client_id}: {exc!r}")
            finally:
                self.balancer.done(instance)
            time.sleep(0.005)


class Browser:
    """One browser (one cookie jar); the test says which instance each request reaches."""

    def __init__(self):
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "ru"

    def get(self, instance: Instance, path: str) -> requests.Response:
        return self.http.get(urljoin(instance.url, path), allow_redirects=False, timeout=10)

    def sign_in_again(self, asked_by: Instance, signed_in_at: Instance, portal: SimpleNamespace) -> str:
        """An authorization request with ``prompt=login`` to one instance; the sign-in it asks for, and the
        return to authorize with its re-authentication marker, on the other; the code."""
        path, params = authorization(portal, prompt="login")
        login = self.get(asked_by, path)
        assert login.status_code == 302 and "idp_reauth=" in unquote(login.headers["Location"]), login.headers
        page = self.post_form(signed_in_at, signed_in_at, login.headers["Location"],
                              {"login": CUSTOMER, "password": PASSWORD, "action": "signin"})
        assert page.status_code == 302, page.text[:300]
        back = self.get(signed_in_at, page.headers["Location"])  # the marker counts: no loop to /login
        return code_from(back, params)

    def post_form(self, rendered_by: Instance, posted_to: Instance, path: str,
                  data: dict) -> requests.Response:
        """GET ``path`` from one instance, POST its form (with that page's CSRF token) to the other."""
        page = self.get(rendered_by, path)
        assert page.status_code == 200, page.text[:300]
        token = unescape(_CSRF.search(page.text).group(1))
        return self.http.post(urljoin(posted_to.url, path), data={"csrf_token": token, **data},
                              allow_redirects=False, timeout=10)


def _env(base: dict, current: str, previous: str = "") -> dict:
    env = dict(base, IDP_SECRET_KEY=current)
    env.pop("IDP_PREVIOUS_SECRET_KEYS", None)
    if previous:
        env["IDP_PREVIOUS_SECRET_KEYS"] = previous
    return env


def _prepare(settings_env: dict, folder: Path, clients: dict) -> str:
    """Through the Python API with the old key: customers with a password, a client whose secret hash is of
    the first format (as stored before keys could be rotated), and a message queued in the outbox."""
    from idp.accounts import create_account
    from idp.app import create_app
    from idp.clients import create_client
    from idp.clients.secrets import legacy_hash
    from idp.delivery import enqueue
    from idp.extensions import db
    from idp.settings import Settings

    settings = Settings.from_env(environ=settings_env, instance_dir=str(folder / "setup-instance"))
    app = create_app(settings)
    with app.app_context():
        services = app.extensions["idp"]
        now = services.clock.now()
        for email in (CUSTOMER, "first@example.com", "second@example.com", "queued@example.com"):
            account = create_account(email=email, now=now)
            account.password_hash = services.hasher.hash(PASSWORD)
        first, secret = create_client(settings, name="Старый сервис", grant_types=["client_credentials"],
                                      scopes=["policies:write"], now=now)
        first.secret_hash = legacy_hash(secret, OLD)
        first_id = first.client_id
        clients[first_id] = secret
        enqueue(services, "temporary_password", channel="email", recipient="queued@example.com",
                account_id=None, params={"password": "Queued12", "login_url": settings.issuer + "/login"})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return first_id


def _create_client(env: dict, name: str) -> tuple[str, str]:
    made = json.loads(run_idp(env, "clients", "create", "--name", name, "--grant-type", "client_credentials",
                              "--scope", "policies:write", "--json"))
    return made["client_id"], made["client_secret"]


def test_the_secret_key_is_rotated_while_two_instances_serve_traffic(database_url, tmp_path):
    mailbox = Mailbox(str(tmp_path / "mailbox.jsonl"))
    settings_env = {"IDP_DATABASE_URL": database_url, "IDP_ISSUER": "https://idp.example.test",
                    "IDP_KEYS_DIR": str(tmp_path / "keys"), "IDP_MAILBOX_PATH": mailbox.path,
                    "IDP_BCRYPT_ROUNDS": "4", "IDP_DELIVERY_MODE": "worker", "IDP_SECRET_KEY": OLD}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GUNICORN_"))}
    base.update(settings_env, IDP_INSTANCE_DIR=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")

    run_idp(base, "init")
    made = json.loads(run_idp(base, "clients", "create", "--name", "ДМС портал", "--redirect-uri",
                              REDIRECT_URI, "--first-party", "--json"))
    portal = SimpleNamespace(client_id=made["client_id"])
    clients: dict[str, str] = {made["client_id"]: made["client_secret"]}
    sealed_id, sealed_secret = _create_client(base, "ДМС сервис")
    clients[sealed_id] = sealed_secret
    first_id = _prepare(settings_env, tmp_path, clients)

    started: list[Instance] = []

    def start(name: str, env: dict) -> Instance:
        instance = _start(name, env, tmp_path)
        started.append(instance)
        _wait_ready(instance, time.monotonic() + 30)
        return instance

    a, b = start("A", base), start("B", base)
    balancer = Balancer([a, b])
    traffic = ClientTraffic(balancer, dict(clients))
    customer, stranger = Browser(), Browser()
    try:
        # Signed in on A; «Забыли пароль?» for a customer, rendered by A and posted to B: a request sealed
        # under the old key, waiting for the delivery worker.
        page = customer.post_form(a, a, "/login",
                                  {"login": CUSTOMER, "password": PASSWORD, "action": "signin"})
        assert page.status_code == 302 and page.headers["Location"].endswith("/account"), page.text[:300]
        page = stranger.post_form(a, b, "/login", {"login": "first@example.com", "action": "forgot"})
        assert page.status_code == 200 and "reset.sent_email" in codes(page.text)
        traffic.start()
        steps = itertools.count()

        def still_working(x: Instance, y: Instance) -> None:
            """The signed-in customer on both instances; a form of one instance posted to the other."""
            for instance in (x, y):
                page = customer.get(instance, "/account")
                assert page.status_code == 200 and CUSTOMER in page.text, (instance.name, page.status_code)
            page = stranger.post_form(x, y, "/login", {"login": f"nobody{next(steps)}@example.com",
                                                      "password": "Wrong1234", "action": "signin"})
            assert page.status_code == 200 and "signin.invalid" in codes(page.text), page.text[:300]
            time.sleep(0.3)  # tokens asked of both instances in this state

        def restart(instance: Instance, env: dict) -> Instance:
            balancer.drain(instance)
            _stop([instance])
            fresh = start(instance.name, env)
            balancer.serve(fresh)
            return fresh

        still_working(a, b)
        # 1. The new key accepted everywhere before anything is signed or sealed with it.
        a = restart(a, _env(base, OLD, NEW))
        still_working(a, b)
        b = restart(b, _env(base, OLD, NEW))
        still_working(b, a)

        # 2. The new key signs and seals; the old one is still accepted.
        rotating = _env(base, NEW, OLD)
        a = restart(a, rotating)
        still_working(a, b)
        still_working(b, a)
        # The re-authentication marker signed by A with the new key counts at B, and B's with the old at A.
        assert customer.sign_in_again(a, b, portal) and customer.sign_in_again(b, a, portal)
        # A client registered now is sealed under the new key; B (old key current) accepts it.
        new_id, new_secret = _create_client(rotating, "Новый сервис")
        clients[new_id] = new_secret
        traffic.clients = dict(clients)
        # The delivery worker with the new key sends the message queued under the old one and issues the
        # «Забыли пароль?» request sealed under the old one.
        assert json.loads(run_idp(rotating, "deliveries", "run", "--once", "--json"))["sent"] == 2
        # B, still on the old key, seals another request under it.
        page = stranger.post_form(a, b, "/login", {"login": "second@example.com", "action": "forgot"})
        assert page.status_code == 200 and "reset.sent_email" in codes(page.text)
        b = restart(b, rotating)
        still_working(a, b)
        still_working(b, a)

        # 3. Re-key what is stored; nothing is left under the old key (the first-format client authenticated
        # meanwhile, so its hash was upgraded).
        report = json.loads(run_idp(rotating, "secrets", "rekey", "--json"))
        assert report["done"] is True and report["remaining"] == {}, report
        # The portal and the service registered under the old key, the first-format one upgraded under it.
        assert report["rekeyed"]["client secrets"] == {"rekeyed": 3, "current": 1, "changed_meanwhile": 0,
                                                       "not_rekeyed": 0}
        assert report["rekeyed"]["reset requests"]["rekeyed"] == 1
        again = json.loads(run_idp(rotating, "secrets", "rekey", "--json"))
        assert again["done"] is True and sum(tally["rekeyed"] for tally in again["rekeyed"].values()) == 0

        # 4. The old key dropped, one instance at a time.
        final = _env(base, NEW)
        a = restart(a, final)
        still_working(a, b)
        b = restart(b, final)
        still_working(a, b)
        still_working(b, a)
        assert json.loads(run_idp(final, "deliveries", "run", "--once", "--json"))["sent"] == 1
    finally:
        traffic.stopped.set()
        if traffic.is_alive():
            traffic.join(timeout=15)
        _stop(started)

    assert traffic.failures == [], traffic.failures[:10]
    assert traffic.ok > 50 and set(traffic.by_instance) == {"A", "B"}
    assert set(traffic.by_client) == set(clients)
    # Every client authenticates with the old key gone, on both instances (they are stopped: started again).
    a, b = start("A", final), start("B", final)
    try:
        for instance in (a, b):
            for client_id, secret in clients.items():
                answer = token(instance, client_id, secret)
                assert answer.status_code == 200, (instance.name, client_id, answer.text)
        assert customer.get(a, "/account").status_code == 200
    finally:
        _stop([a, b])
    # No message lost: the one queued under the old key, and both temporary passwords.
    assert "Queued12" in mailbox.last("queued@example.com")["text"]
    for email in ("first@example.com", "second@example.com"):
        assert mailbox.temporary_password(email)
    assert first_id in clients
    for instance in started:
        log = instance.log()
        assert "Traceback" not in log, log
        assert OLD not in log and NEW not in log
