"""Enumeration: known and unknown logins get the same answer, status, headers and timing.

Timing is compared as distributions over real HTTP with a realistic bcrypt cost, the two kinds of
request interleaved so machine noise hits both alike: the medians must lie within 15% of each other
and neither distribution may sit wholly above the other (a rank test would say the same).
"""
from __future__ import annotations

import re
import statistics
import time

import pytest

from idp.accounts import create_account
from idp.extensions import db
from tests.http import PageClient

ROUNDS = 9  # ~30 ms a hash: large enough to dominate, small enough for a test
SAMPLES = 24


@pytest.fixture
def timed_app(make_app):
    app = make_app(bcrypt_rounds=ROUNDS, delivery_mode="worker", reset_per_minute=1000, reset_per_hour=1000,
                   signin_threshold=1000, ip_threshold=1000)
    with app.app_context():  # the known account, its password hashed at the same cost
        services = app.extensions["idp"]
        account = create_account(email="known@example.com", phone="+79161234567", now=services.clock.now())
        account.password_hash = services.hasher.hash("Polis2026")
        db.session.commit()
    return app


def strip_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def measure(browser: PageClient, form: dict) -> tuple[float, str, int, set]:
    browser.get("/login")
    started = time.perf_counter()
    page = browser.submit("/login", form)
    return time.perf_counter() - started, strip_csrf(page.text), page.status_code, set(page.headers) - {"Date"}


def compare(samples_known: list[float], samples_unknown: list[float]) -> None:
    known, unknown = statistics.median(samples_known), statistics.median(samples_unknown)
    assert abs(known - unknown) / max(known, unknown) < 0.15, (known, unknown)
    assert min(samples_known) < max(samples_unknown) and min(samples_unknown) < max(samples_known)


@pytest.mark.parametrize("action", ["signin", "forgot"])
def test_known_and_unknown_logins_are_indistinguishable(timed_app, http_server, action):
    server = http_server.start(timed_app)
    browser = PageClient(server.url)
    results = {"known": [], "unknown": []}
    for n in range(SAMPLES):
        for kind in ("known", "unknown") if n % 2 else ("unknown", "known"):
            login = "known@example.com" if kind == "known" else f"nobody{n}@example.com"
            results[kind].append(measure(browser, {"login": login, "password": "Wrong2026", "action": action}))
    bodies = {kind: {r[1].replace(f"nobody{n}@example.com", "LOGIN").replace("known@example.com", "LOGIN")
                     for n, r in enumerate(results[kind])} for kind in results}
    assert len(bodies["known"] | bodies["unknown"]) == 1
    assert {r[2] for kind in results for r in results[kind]} == {200}
    assert len({frozenset(r[3]) for kind in results for r in results[kind]}) == 1
    compare([r[0] for r in results["known"]][2:], [r[0] for r in results["unknown"]][2:])
