"""Enumeration: known and unknown logins get the same answer, status, headers and timing.

Timing is compared as distributions over real HTTP with a realistic bcrypt cost, the two kinds of
request interleaved so machine noise hits both alike: a rank test (Mann–Whitney U) must not tell them
apart at the 0.1% level, and neither distribution may sit wholly above the other. A fixed ratio of the
medians would be the wrong yardstick: a reset in worker mode takes a few milliseconds, where a shared
machine's noise alone moves a median by more than 15%, while a real leak (a lookup or a write done only
for known logins) shifts every sample and is what a rank test sees.
"""
from __future__ import annotations

import math
import re
import time

import pytest

from idp.accounts import create_account
from idp.extensions import db
from tests.http import PageClient

ROUNDS = 9  # ~30 ms a hash: large enough to dominate, small enough for a test
#: Pairs of requests: sign-in costs a hash each; a reset in worker mode costs no hash in the request.
SAMPLES = {"signin": 30, "forgot": 60}
ALPHA = 0.001


@pytest.fixture
def timed_app(make_app):
    app = make_app(bcrypt_rounds=ROUNDS, delivery_mode="worker", reset_per_minute=1000, reset_per_hour=1000,
                   reset_login_ceiling=1000, signin_threshold=1000, signin_login_ceiling=1000, ip_threshold=1000)
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
    return time.perf_counter() - started, strip_csrf(page.text), page.status_code, header_shape(page.headers)


def header_shape(headers) -> frozenset:
    """Every header with its value, but the date, the request id, the cookie's own (random, signed) value
    and the length (the page echoes the login typed; the bodies themselves are compared without it)."""
    return frozenset((name, re.sub(r"^([^=]+)=[^;]*", r"\1=…", value) if name.lower() == "set-cookie" else value)
                     for name, value in headers.items() if name.lower() not in {"date", "x-request-id", "content-length"})


def rank_test_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann–Whitney U test (normal approximation, ties given mid-ranks)."""
    ranked = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks, i = [0.0] * len(ranked), 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    u = sum(r for r, (_, group) in zip(ranks, ranked) if group == 0) - n1 * (n1 + 1) / 2
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return math.erfc(abs(z) / math.sqrt(2))


def test_the_rank_test_sees_a_small_systematic_shift():
    base = [0.005 + 0.001 * ((n * 7919) % 13) / 13 for n in range(60)]  # spread like a shared machine
    assert rank_test_p(base, [x + 0.0004 for x in base]) < ALPHA  # 0.4 ms on ~5.5 ms: a leak
    assert rank_test_p(base, list(reversed(base))) > 0.5  # the same distribution


def compare(samples_known: list[float], samples_unknown: list[float]) -> None:
    p = rank_test_p(samples_known, samples_unknown)
    assert p >= ALPHA, (p, sorted(samples_known), sorted(samples_unknown))
    assert min(samples_known) < max(samples_unknown) and min(samples_unknown) < max(samples_known)


@pytest.mark.parametrize("action", ["signin", "forgot"])
def test_known_and_unknown_logins_are_indistinguishable(timed_app, http_server, action):
    server = http_server.start(timed_app)
    browser = PageClient(server.url)
    results = {"known": [], "unknown": []}
    for n in range(SAMPLES[action]):
        for kind in ("known", "unknown") if n % 2 else ("unknown", "known"):
            login = "known@example.com" if kind == "known" else f"nobody{n}@example.com"
            results[kind].append(measure(browser, {"login": login, "password": "Wrong2026", "action": action}))
    bodies = {kind: {r[1].replace(f"nobody{n}@example.com", "LOGIN").replace("known@example.com", "LOGIN")
                     for n, r in enumerate(results[kind])} for kind in results}
    assert len(bodies["known"] | bodies["unknown"]) == 1
    assert {r[2] for kind in results for r in results[kind]} == {200}
    assert len({r[3] for kind in results for r in results[kind]}) == 1, {r[3] for kind in results for r in results[kind]}
    compare([r[0] for r in results["known"]][2:], [r[0] for r in results["unknown"]][2:])
