"""Two provider processes behind an imaginary load balancer: one PostgreSQL database, one secret key,
one keys directory, one public issuer; each instance is a real gunicorn process on its own loopback port.

The database is a scratch database made for the module on the PostgreSQL server of
:func:`tests.postgres.server_url`, migrated with ``idp init`` and dropped afterwards (without a reachable
server: skipped, or failed under ``CI=true``).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.postgres import admin_connection, server_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: The public base URL a load balancer would answer on; the tests talk to each instance directly.
ISSUER = "https://idp.example.test"
REDIRECT_URI = "https://portal.example.test/callback"
SECRET_KEY = "multi-instance-secret-" + "k" * 32
PASSWORD = "Polis2026"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Instance:
    name: str
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    a: Instance
    b: Instance
    env: dict
    database_url: str
    mailbox_path: str
    client_id: str
    client_secret: str
    accounts: dict = field(default_factory=dict)

    @property
    def instances(self) -> tuple[Instance, Instance]:
        return self.a, self.b


def start_idp(env: dict, *args: str) -> subprocess.Popen:
    """``idp ARGS`` as an operator runs it, started; :func:`output` waits for it."""
    return subprocess.Popen([str(BIN / "idp"), *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def output(process: subprocess.Popen) -> str:
    """The standard output of a finished ``idp`` command; fails the test if the command failed."""
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, f"{' '.join(process.args)} failed:\n{stdout}\n{stderr}"
    return stdout


def run_idp(env: dict, *args: str) -> str:
    return output(start_idp(env, *args))


def _start(name: str, env: dict, folder: Path) -> Instance:
    port = free_port()
    log_path = folder / f"gunicorn-{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", "1", "--threads", "4",
             "--no-control-socket",  # two instances (and other runs) must not share ~/.gunicorn/gunicorn.ctl
             "-b", f"127.0.0.1:{port}", "idp.wsgi:app"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return Instance(name, f"http://127.0.0.1:{port}", process, log_path)


def _wait_ready(instance: Instance, deadline: float) -> None:
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"instance {instance.name} exited ({instance.process.returncode}):\n{instance.log()}")
        try:
            if requests.get(instance.url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"instance {instance.name} not ready in time:\n{instance.log()}")


def _stop(instances: list[Instance]) -> None:
    """Stop our gunicorn masters (each stops its worker): SIGINT, gunicorn's quick shutdown, to all first;
    a master still running after 15 s is killed with its workers."""
    running = [i for i in instances if i.process.poll() is None]
    for instance in running:
        instance.process.send_signal(signal.SIGINT)
    for instance in running:
        try:
            instance.process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # the whole group (started in a session of its own): no orphaned worker
            os.killpg(instance.process.pid, signal.SIGKILL)
            instance.process.wait(timeout=5)


def _with_password(settings_env: dict, folder: Path, logins: dict[str, str]) -> None:
    """Accounts with a permanent password, through the Python API against the shared database."""
    from idp.accounts import create_account
    from idp.app import create_app
    from idp.extensions import db
    from idp.settings import Settings

    settings = Settings.from_env(environ=settings_env, instance_dir=str(folder / "setup-instance"))
    app = create_app(settings)
    with app.app_context():
        services = app.extensions["idp"]
        for email, password in logins.items():
            account = create_account(email=email, now=services.clock.now())
            account.password_hash = services.hasher.hash(password)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    server = server_url()
    admin = admin_connection(server)
    name = f"idp_multi_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("multi_instance")
    database_url = make_url(server).set(database=name, drivername="postgresql+psycopg") \
        .render_as_string(hide_password=False)
    settings_env = {
        "IDP_DATABASE_URL": database_url, "IDP_SECRET_KEY": SECRET_KEY, "IDP_ISSUER": ISSUER,
        "IDP_KEYS_DIR": str(folder / "keys"), "IDP_MAILBOX_PATH": str(folder / "mailbox.jsonl"),
        "IDP_BCRYPT_ROUNDS": "4", "IDP_DELIVERY_MODE": "inline",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GUNICORN_"))}
    env.update(settings_env, IDP_INSTANCE_DIR=str(folder / "instance"), PYTHONUNBUFFERED="1")
    instances: list[Instance] = []
    created: dict = {}
    try:
        run_idp(env, "init")  # the schema and the first signing key; then everything else at once
        instances = [_start("A", env, folder), _start("B", env, folder)]
        deadline = time.monotonic() + 30
        client = start_idp(env, "clients", "create", "--name", "ДМС портал", "--redirect-uri", REDIRECT_URI,
                           "--first-party", "--json")
        account = start_idp(env, "accounts", "create", "--email", "first@example.com", "--json")
        _with_password(settings_env, folder,
                       {"customer@example.com": PASSWORD, "guarded@example.com": PASSWORD})
        created = json.loads(output(client))
        assert json.loads(output(account))["email"] == "first@example.com"
        for instance in instances:
            _wait_ready(instance, deadline)
        yield Cluster(a=instances[0], b=instances[1], env=env, database_url=database_url,
                      mailbox_path=settings_env["IDP_MAILBOX_PATH"], client_id=created["client_id"],
                      client_secret=created["client_secret"])
    finally:
        _stop(instances)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    for instance in instances:  # neither instance failed unexpectedly, nor logged a secret
        log = instance.log()
        assert "Traceback" not in log and "unhandled error" not in log, log
        assert created["client_secret"] not in log and PASSWORD not in log
