"""Issue 22, finding 1: the metrics are off the public listener.

Counters such as ``temporary.issued`` move only for real accounts, so a public ``/metrics`` told anyone who
pressed «Забыли пароль?» whether the login exists. The public app answers ``/metrics`` as it answers any
unknown path (404); the counters are served by a listener of their own (``IDP_METRICS_BIND``): a thread of
the process in development and tests, the gunicorn master (every worker added up) in production.
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from idp.extensions import db
from idp.ops.metrics import serve
from tests.multi_instance.conftest import BIN, ROOT, Instance, _stop, _wait_ready, free_port
from tests.web.test_pages import post_login

PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"


def value(text: str, name: str, **labels) -> float:
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}{{{re.escape(selector)}}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


@pytest.fixture
def listener():
    """A metrics listener of this process on a free loopback port: its URL."""
    server = serve(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("headers", [{}, {"Accept": PROMETHEUS_ACCEPT}])
def test_the_public_app_answers_metrics_like_any_unknown_path(client, headers):
    metrics, unknown = client.get("/metrics", headers=headers), client.get("/no-such-page", headers=headers)
    assert metrics.status_code == unknown.status_code == 404
    assert metrics.content_type == unknown.content_type
    # The same page, but for the path in its language links (/lang/en?next=…).
    assert metrics.get_data(as_text=True) == unknown.get_data(as_text=True).replace("/no-such-page", "/metrics")
    assert "idp_events_total" not in metrics.get_data(as_text=True)


def test_the_listener_shows_a_forgotten_password_the_public_app_does_not(client, make_account, listener):
    make_account(email="client@example.com")
    before = value(requests.get(listener + "/metrics", timeout=10).text, "idp_events_total",
                   event="temporary.issued")
    post_login(client, login="client@example.com", action="forgot")  # a real account: a temporary password
    scraped = requests.get(listener + "/metrics", timeout=10)
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    assert value(scraped.text, "idp_events_total", event="temporary.issued") == before + 1
    assert 'idp_deliveries_total{channel="email",status="sent"}' in scraped.text
    assert client.get("/metrics").status_code == 404


# -- under gunicorn -----------------------------------------------------------------------------------------


@pytest.fixture
def gunicorn(app, settings, tmp_path, make_account):
    """A real gunicorn, two workers, on this test's database, with IDP_METRICS_BIND on a free loopback port:
    (public URL, metrics URL)."""
    make_account(email="client@example.com")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    public, metrics = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "GUNICORN_", "PROMETHEUS_"))}
    env.update(IDP_DATABASE_URL=settings.database_url, IDP_SECRET_KEY=settings.secret_key,
               IDP_ISSUER=settings.issuer, IDP_KEYS_DIR=settings.keys_dir, IDP_INSTANCE_DIR=settings.instance_dir,
               IDP_MAILBOX_PATH=settings.mailbox_path, IDP_BCRYPT_ROUNDS="4", PYTHONUNBUFFERED="1",
               IDP_METRICS_BIND=f"127.0.0.1:{metrics}")
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2", "--threads", "2",
             "--no-control-socket", "-b", f"127.0.0.1:{public}", "idp.wsgi:app"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    instance = Instance("metrics", f"http://127.0.0.1:{public}", process, log_path)
    try:
        _wait_ready(instance, time.monotonic() + 30)
        yield instance.url, f"http://127.0.0.1:{metrics}"
    finally:
        _stop([instance])
    log = instance.log()
    assert "Traceback" not in log and "unhandled error" not in log, log
    assert f"Metrics at: http://127.0.0.1:{metrics}/metrics" in log


def forgot(public: str, login: str) -> None:
    browser = requests.Session()
    page = browser.get(public + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post(public + "/login", data={"csrf_token": token, "login": login, "action": "forgot"},
                          timeout=10)
    assert answer.status_code == 200, answer.text


def test_under_gunicorn_the_master_serves_every_workers_metrics_and_the_public_port_has_none(gunicorn):
    public, metrics = gunicorn
    assert requests.get(public + "/metrics", timeout=10).status_code == 404
    unknown = requests.get(public + "/no-such-page", timeout=10).text.replace("/no-such-page", "/metrics")
    assert requests.get(public + "/metrics", timeout=10).text == unknown

    def healthz(_):  # a connection of its own each: the two workers share them
        return requests.get(public + "/healthz", timeout=10, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(healthz, range(40))) == {200}
    forgot(public, "client@example.com")
    scraped = requests.get(metrics + "/metrics", timeout=10, headers={"Accept": PROMETHEUS_ACCEPT})
    assert scraped.status_code == 200
    # Added up over both workers (the master itself serves no request): every one of the 40, once.
    assert value(scraped.text, "idp_request_seconds_count", endpoint="health.healthz", method="GET") == 40
    assert value(scraped.text, "idp_events_total", event="temporary.issued") == 1
