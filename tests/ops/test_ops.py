"""Operations: liveness, readiness, Prometheus metrics, request ids and JSON logs.

The metrics are read from their own listener (:func:`idp.ops.metrics.serve`), never from the public app:
see also ``tests/ops/test_metrics_listener.py``.
"""
import json
import logging
import re

import requests

from idp.app import create_app
from idp.ops.logs import JsonFormatter, RequestIdFilter
from idp.ops.metrics import serve
from tests.web.test_pages import post_login


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "keys": "ok"}


def test_readyz_fails_when_the_database_is_unreachable(settings, clock, tmp_path):
    """A database that goes away after start-up (one unreachable at start-up stops it: tests/ops/
    test_startup_errors.py): the SQLite file replaced by a folder, so no connection can open it."""
    database = tmp_path / "gone" / "idp.sqlite3"
    app = create_app(settings.replace(database_url=f"sqlite:///{database}"), clock=clock)
    for leftover in database.parent.iterdir():
        leftover.unlink()
    database.mkdir()
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "failing"


_listener = None  # this test process's metrics listener, on a free loopback port, started when first read


def metrics_text() -> str:
    """What Prometheus would read: the text of this process's metrics listener."""
    global _listener
    if _listener is None:
        _listener = serve(("127.0.0.1", 0))
    answer = requests.get(f"http://127.0.0.1:{_listener.server_port}/metrics", timeout=10)
    assert answer.status_code == 200
    return answer.text


def metric(_client, name, **labels):
    """The value of one series on the metrics listener (the first argument, a test client of the app whose
    ``/metrics`` this once read, is no longer used: the public app has none)."""
    text = metrics_text()
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}{{{re.escape(selector)}}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_sign_ins_by_outcome_and_latency(client, make_account):
    make_account(email="client@example.com", password="Polis2026")
    before_fail = metric(client, "idp_events_total", event="signin.failure")
    before_ok = metric(client, "idp_events_total", event="signin.success")
    post_login(client, login="client@example.com", password="Wrong2026", action="signin")
    post_login(client, login="client@example.com", password="Polis2026", action="signin")
    assert metric(client, "idp_events_total", event="signin.failure") == before_fail + 1
    assert metric(client, "idp_events_total", event="signin.success") == before_ok + 1
    text = metrics_text()
    assert 'idp_request_seconds_bucket{endpoint="web.login_submit",le="0.5",method="POST"}' in text


def test_metrics_count_deliveries(client, make_account):
    make_account(email="client@example.com")
    before = metric(client, "idp_deliveries_total", channel="email", status="sent")
    post_login(client, login="client@example.com", action="forgot")
    assert metric(client, "idp_deliveries_total", channel="email", status="sent") == before + 1


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-12345678"}).headers["X-Request-ID"] == "abc-12345678"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", made)


def test_json_log_lines_carry_the_request_id(app):
    formatter, request_filter = JsonFormatter(), RequestIdFilter()
    with app.test_request_context("/login", headers={"X-Request-ID": "req-12345678"}):
        app.preprocess_request()
        record = logging.LogRecord("idp.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        request_filter.filter(record)
        line = json.loads(formatter.format(record))
    assert line["message"] == "hello world" and line["request_id"] == "req-12345678"
    assert line["level"] == "INFO" and line["logger"] == "idp.test"
