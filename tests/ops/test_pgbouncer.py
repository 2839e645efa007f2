"""Issue 25 item 4: the provider behind PgBouncer in transaction pooling mode.

Debian's ``pgbouncer`` (1.18: it keeps no prepared statements in transaction mode) runs on a free loopback
port in front of the test PostgreSQL, with fewer server connections than the provider opens client
connections to it, so every server connection serves many clients, one transaction after another. Two
provider instances (gunicorn, as in tests/multi_instance) and two delivery workers (``idp deliveries run``)
reach a scratch database (``pgb_<worker>_…``, dropped afterwards) only through it, with
``IDP_DATABASE_POOLER=pgbouncer``: the sign-in journey hopping between the instances, the token endpoint
under concurrency, and the outbox (queued by the instances, dispatched by the workers).

Without the setting the same run fails: psycopg prepares a query under a name from its fifth run on a
connection, and the provider's protocol store prepares its lookups under names, on whichever server
connection PgBouncer lent for that statement; the next run finds another server connection, where that
name does not exist (or already names another statement).

pgbouncer is installed by ``scripts/test`` (``scripts/install-pgbouncer``, apt); without it this module
is skipped, saying so — except under ``CI=true``, where that is a failure. pgbouncer refuses to run as
root: as root it is started with ``-u postgres`` (or ``nobody``).
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import Mailbox
from tests.http import codes
from tests.multi_instance.conftest import (BIN, ISSUER, PASSWORD, ROOT, SECRET_KEY, Cluster, _start, _stop,
                                           _wait_ready, _with_password, free_port, output, run_idp, start_idp)
from tests.multi_instance.test_two_instances import (Browser, at_once, authorization, code_from, exchange,
                                                     fresh_code, id_token_claims, refresh, sign_in, userinfo)
from tests.multi_instance.test_two_instances import \
    test_a_code_sent_to_both_instances_at_once_is_exchanged_once as code_raced_to_both_is_spent_once
from tests.multi_instance.test_two_instances import \
    test_a_refresh_token_sent_to_both_instances_at_once_is_used_once as refresh_raced_to_both_is_spent_once
from tests.postgres import admin_connection, server_url

#: PgBouncer's server connections for the database: far fewer than the instances' client connections.
SERVER_CONNECTIONS = 3
#: Requests sent to the token endpoint at once (half to each instance).
PARALLEL = 20
#: Customers who ask for a temporary password at once (the outbox).
OUTBOX_CUSTOMERS = 20
REDIRECT_URI = "https://portal.example.test/callback"


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None)
    if found is None:
        message = ("pgbouncer is not installed: scripts/install-pgbouncer installs Debian's "
                   "(apt-get install pgbouncer); scripts/test runs it")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    pytest.fail("pgbouncer refuses to run as root, and there is no postgres or nobody user to run it as")


@dataclass
class Bouncer:
    port: int
    process: subprocess.Popen
    folder: Path

    def url(self, database: str, user: str) -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def show(self, what: str, user: str) -> list[dict]:
        """``SHOW <what>`` on PgBouncer's admin console (simple query protocol only), as dicts."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=user, dbname="pgbouncer",
                             autocommit=True) as connection:
            result = connection.pgconn.exec_(f"SHOW {what}".encode())
            names = [result.fname(i).decode() for i in range(result.nfields)]
            return [{names[i]: (result.get_value(row, i) or b"").decode() for i in range(result.nfields)}
                    for row in range(result.ntuples)]


def start_pgbouncer(binary: str, server: str) -> Bouncer:
    """PgBouncer in transaction pooling mode on a free loopback port, in front of ``server``'s databases."""
    url = make_url(server)
    user = url.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="idp-pgbouncer-"))
    folder.chmod(0o755)  # readable by the user pgbouncer drops to
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')  # auth_type trust: the names it lets in
    target = f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={user}"
    if url.password:
        target += f" password={url.password}"
    (folder / "pgbouncer.ini").write_text(f"""[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
admin_users = {user}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
server_lifetime = 3600
""")
    command = [binary]
    if os.geteuid() == 0:
        command += ["-u", _unprivileged_user()]
    command.append(str(folder / "pgbouncer.ini"))
    with open(folder / "pgbouncer.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    bouncer = Bouncer(port, process, folder)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited ({process.returncode}):\n{bouncer.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return bouncer
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                pytest.fail(f"pgbouncer does not listen on 127.0.0.1:{port}:\n{bouncer.log()}")
            time.sleep(0.05)


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Pooled(Cluster):
    bouncer: Bouncer | None = None
    user: str = "postgres"
    workers: tuple = ()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    binary = pgbouncer_binary()
    server = server_url()
    admin = admin_connection(server)
    name = f"pgb_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("pgbouncer")
    bouncer = start_pgbouncer(binary, server)
    user = make_url(server).username or "postgres"
    database_url = bouncer.url(name, user)
    settings_env = {
        "IDP_DATABASE_URL": database_url, "IDP_DATABASE_POOLER": "pgbouncer",
        "IDP_SECRET_KEY": SECRET_KEY, "IDP_ISSUER": ISSUER, "IDP_KEYS_DIR": str(folder / "keys"),
        "IDP_MAILBOX_PATH": str(folder / "mailbox.jsonl"), "IDP_BCRYPT_ROUNDS": "4",
        # The outbox: the instances queue, only the delivery workers send.
        "IDP_DELIVERY_MODE": "worker",
        # All customers of the outbox test ask from 127.0.0.1 within a minute.
        "IDP_RESET_PER_MINUTE": "10", "IDP_RESET_PER_HOUR": "20",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GUNICORN_"))}
    env.update(settings_env, IDP_INSTANCE_DIR=str(folder / "instance"), PYTHONUNBUFFERED="1")
    instances, workers, created = [], [], {}
    try:
        run_idp(env, "init")  # the migrations run through PgBouncer too
        instances = [_start("A", env, folder), _start("B", env, folder)]
        for n in range(2):
            with open(folder / f"deliveries-{n}.log", "wb") as log:
                workers.append(subprocess.Popen([str(BIN / "idp"), "deliveries", "run", "--interval", "0.2"],
                                                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True))
        deadline = time.monotonic() + 30
        client = start_idp(env, "clients", "create", "--name", "ДМС портал", "--redirect-uri", REDIRECT_URI,
                           "--first-party", "--json")
        account = start_idp(env, "accounts", "create", "--email", "first@example.com", "--json")
        _with_password(settings_env, folder, {"customer@example.com": PASSWORD, **{
            f"outbox{n}@example.com": PASSWORD for n in range(OUTBOX_CUSTOMERS)}})
        created = json.loads(output(client))
        assert json.loads(output(account))["email"] == "first@example.com"
        for instance in instances:
            _wait_ready(instance, deadline)
        yield Pooled(a=instances[0], b=instances[1], env=env, database_url=database_url,
                     mailbox_path=settings_env["IDP_MAILBOX_PATH"], client_id=created["client_id"],
                     client_secret=created["client_secret"], bouncer=bouncer, user=user,
                     workers=tuple(workers))
    finally:
        for worker in workers:
            stop_process(worker, signal.SIGINT)
        _stop(instances)
        stop_process(bouncer.process)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(bouncer.folder, ignore_errors=True)
    logs = [instance.log() for instance in instances]
    logs += [(folder / f"deliveries-{n}.log").read_text(errors="replace") for n in range(len(workers))]
    for log in logs:  # nothing failed on the way, and no secret was logged
        assert "Traceback" not in log and "unhandled error" not in log, log
        assert "prepared statement" not in log, log
        assert created["client_secret"] not in log and PASSWORD not in log


@pytest.fixture
def signed_in(cluster) -> Browser:
    """customer@example.com signed in on instance A, afresh for each test: presenting a spent refresh token
    ends the provider session it came from."""
    return sign_in(cluster)


def wait_for_messages(cluster: Pooled, logins: list[str], timeout: float = 60) -> dict[str, list[dict]]:
    """The mailbox's messages to each of ``logins``, once every one has at least one (sent by the workers)."""
    mailbox = Mailbox(cluster.mailbox_path)
    deadline = time.monotonic() + timeout
    while True:
        exists = Path(cluster.mailbox_path).exists()
        found = {login: mailbox.messages(login) if exists else [] for login in logins}
        if all(found.values()):
            return found
        assert time.monotonic() < deadline, f"no message yet to {[k for k, v in found.items() if not v]}"
        time.sleep(0.1)


def test_pgbouncer_runs_in_transaction_mode_with_fewer_server_connections_than_clients(cluster, signed_in):
    """The set-up is what it claims: transaction pooling, every server connection shared by many clients."""
    config = {row["key"]: row["value"] for row in cluster.bouncer.show("CONFIG", cluster.user)}
    assert config["pool_mode"] == "transaction"
    for instance in cluster.instances:  # a few requests, so each instance holds client connections
        assert requests.get(instance.url + "/readyz", timeout=10).status_code == 200
        assert refresh(cluster, instance, "x").status_code in (400, 401)
    database = make_url(cluster.database_url).database
    clients = [c for c in cluster.bouncer.show("CLIENTS", cluster.user) if c["database"] == database]
    servers = [s for s in cluster.bouncer.show("SERVERS", cluster.user) if s["database"] == database]
    assert len(servers) <= SERVER_CONNECTIONS < len(clients), (len(servers), len(clients))


def test_the_sign_in_journey_hopping_between_instances(cluster):
    a, b = cluster.a, cluster.b
    browser = Browser()
    path, params = authorization(cluster)
    assert "Вход в личный кабинет" in browser.open(a, path).text
    page = browser.submit(a, "/login", {"login": "first@example.com", "password": "", "action": "forgot"})
    assert codes(page.text) == ["reset.sent_email"]
    wait_for_messages(cluster, ["first@example.com"])  # queued by A, sent by a delivery worker
    temporary = Mailbox(cluster.mailbox_path).temporary_password("first@example.com")

    response = browser.submit(b, "/login", {"login": "first@example.com", "password": temporary,
                                            "action": "signin"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/password/change")
    assert "Изменение пароля" in browser.get(b, "/password/change").text
    response = browser.submit(a, "/password/change", {"temporary": temporary, "new": "Polis2027",
                                                      "confirm": "Polis2027"})
    assert response.status_code == 302, codes(response.text)
    assert "password.changed" in codes(browser.open(b, response.headers["Location"]).text)
    response = browser.submit(b, "/login", {"login": "first@example.com", "password": "Polis2027",
                                            "action": "signin"})
    assert response.status_code == 302 and "/oauth/authorize?" in response.headers["Location"]
    code = code_from(browser.get(a, response.headers["Location"]), params)

    token = exchange(cluster, b, code, params)
    assert token.status_code == 200, token.text
    token = token.json()
    claims = id_token_claims(a, token["id_token"], cluster)
    assert claims["nonce"] == params["nonce"]
    for instance in (a, b):
        info = userinfo(instance, token["access_token"])
        assert info.status_code == 200 and info.json()["email"] == "first@example.com", info.text
    renewed = refresh(cluster, a, token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert userinfo(b, renewed.json()["access_token"]).json()["sub"] == claims["sub"]


def test_client_credentials_in_parallel(cluster):
    def grant(instance):
        return lambda: requests.post(instance.url + "/oauth/token", data={"grant_type": "client_credentials"},
                                     auth=(cluster.client_id, cluster.client_secret), timeout=30)

    results = at_once(*[grant(cluster.instances[n % 2]) for n in range(PARALLEL)])
    assert [r.status_code for r in results] == [200] * PARALLEL, [r.text for r in results]
    tokens = [r.json()["access_token"] for r in results]
    assert len(set(tokens)) == PARALLEL

    def introspect(instance, token):
        return lambda: requests.post(instance.url + "/oauth/introspect", data={"token": token},
                                     auth=(cluster.client_id, cluster.client_secret), timeout=30)

    answers = at_once(*[introspect(cluster.instances[(n + 1) % 2], token) for n, token in enumerate(tokens)])
    assert all(r.status_code == 200 and r.json()["active"] is True for r in answers), \
        [r.text for r in answers]


def test_refresh_in_parallel(cluster, signed_in):
    grants = []
    for n in range(PARALLEL):
        code, params = fresh_code(cluster, signed_in, cluster.instances[n % 2])
        first = exchange(cluster, cluster.instances[(n + 1) % 2], code, params)
        assert first.status_code == 200, first.text
        grants.append(first.json())
    results = at_once(*[(lambda n=n: refresh(cluster, cluster.instances[n % 2], grants[n]["refresh_token"]))
                        for n in range(PARALLEL)])
    assert [r.status_code for r in results] == [200] * PARALLEL, [r.text for r in results]
    tokens = [r.json()["access_token"] for r in results]
    infos = at_once(*[(lambda n=n: userinfo(cluster.instances[(n + 1) % 2], tokens[n]))
                      for n in range(PARALLEL)])
    assert all(r.status_code == 200 and r.json()["email"] == "customer@example.com" for r in infos)
    for n in range(PARALLEL):  # each refresh token was spent by its one use
        again = refresh(cluster, cluster.instances[n % 2], grants[n]["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_or_refresh_token_raced_to_both_instances_is_spent_once(cluster, signed_in):
    """The conditional UPDATE of a transaction decides, through PgBouncer as without it."""
    code_raced_to_both_is_spent_once(cluster, signed_in)
    refresh_raced_to_both_is_spent_once(cluster)


def test_the_outbox_queues_and_dispatches_each_message_once(cluster):
    logins = [f"outbox{n}@example.com" for n in range(OUTBOX_CUSTOMERS)]

    def forgot(n):
        def ask():
            browser = Browser()
            browser.open(cluster.instances[n % 2], "/login")
            return browser.submit(cluster.instances[(n + 1) % 2], "/login",
                                  {"login": logins[n], "password": "", "action": "forgot"})
        return ask

    pages = at_once(*[forgot(n) for n in range(OUTBOX_CUSTOMERS)])
    assert [codes(page.text) for page in pages] == [["reset.sent_email"]] * OUTBOX_CUSTOMERS
    found = wait_for_messages(cluster, logins)
    time.sleep(1)  # two workers, several passes each: time for a second copy to show, if any were sent
    found = {login: Mailbox(cluster.mailbox_path).messages(login) for login in logins}
    assert {login: len(messages) for login, messages in found.items()} == {login: 1 for login in logins}
    # Every message of the outbox sent (the journey's too), none waiting, none dead, each sent once.
    listed = json.loads(run_idp(cluster.env, "deliveries", "list", "--json", "--limit", "1000"))
    assert len(listed) >= OUTBOX_CUSTOMERS and {d["status"] for d in listed} == {"sent"}, listed
    assert all(d["attempts"] == 1 for d in listed), listed
    for worker in cluster.workers:
        assert worker.poll() is None  # still serving


# -- the setting itself (no pgbouncer needed) ----------------------------------------------------------------


def test_the_pooler_setting_is_pgbouncer_or_unset_and_needs_postgresql(tmp_path):
    from idp.settings import Settings, SettingsError
    from idp.startup import engine_options

    def settings(**variables):
        return Settings.from_env(environ={"IDP_INSTANCE_DIR": str(tmp_path), **variables})

    postgres = "postgresql+psycopg://idp@pgbouncer:6432/idp"
    assert engine_options(settings(IDP_DATABASE_URL=postgres)) == {}
    assert engine_options(settings(IDP_DATABASE_URL=postgres, IDP_DATABASE_POOLER="pgbouncer")) == {
        "connect_args": {"prepare_threshold": None}}
    with pytest.raises(SettingsError, match="IDP_DATABASE_POOLER must be 'pgbouncer' or unset, got 'odys"):
        settings(IDP_DATABASE_URL=postgres, IDP_DATABASE_POOLER="odyssey")
    with pytest.raises(SettingsError, match="IDP_DATABASE_POOLER=pgbouncer needs a PostgreSQL IDP_DATABASE"):
        settings(IDP_DATABASE_POOLER="pgbouncer")  # the SQLite default
