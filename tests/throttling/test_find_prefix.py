"""A login's throttle counters found by their common prefix (the contact centre's lockouts), in both stores."""
from __future__ import annotations

from datetime import timedelta

from idp.throttling.service import login_key, pair_key, pair_prefix
from tests.conftest import T0


def test_find_prefix_finds_every_address_of_one_login(app):
    services = app.extensions["idp"]
    throttler = services.throttler
    with app.app_context():
        for _ in range(6):
            throttler.before_sign_in("ivan@example.com", "10.0.0.1", T0)
        throttler.before_sign_in("ivan@example.com", "10.0.0.2", T0)
        throttler.before_sign_in("other@example.com", "10.0.0.1", T0)
        found = throttler.store.find_prefix(pair_prefix("signin", "ivan@example.com"))
        assert sorted(row["key"] for row in found) == sorted(
            [pair_key("signin", "ivan@example.com", "10.0.0.1"), pair_key("signin", "ivan@example.com", "10.0.0.2")])
        by_key = {row["key"]: row for row in found}
        first = by_key[pair_key("signin", "ivan@example.com", "10.0.0.1")]
        assert first["failures"] >= 5 and first["blocked_until"] is not None and first["blocked_until"] > T0
        second = by_key[pair_key("signin", "ivan@example.com", "10.0.0.2")]
        assert second["failures"] == 1
        [own] = throttler.store.find_prefix(login_key("signin", "ivan@example.com"))
        assert own["key"] == login_key("signin", "ivan@example.com") and own["failures"] == 6  # the sixth at 10.0.0.1 was refused, not counted
        assert throttler.store.find_prefix(pair_prefix("signin", "nobody@example.com")) == []


def test_cleared_counters_are_found_empty(app):
    throttler = app.extensions["idp"].throttler
    with app.app_context():
        for _ in range(6):
            throttler.before_sign_in("ivan@example.com", "10.0.0.1", T0)
        key = pair_key("signin", "ivan@example.com", "10.0.0.1")
        assert throttler.before_sign_in("ivan@example.com", "10.0.0.1", T0 + timedelta(seconds=1)).allowed is False
        throttler.store.clear(key)
        [row] = throttler.store.find_prefix(pair_prefix("signin", "ivan@example.com"))
        assert row == {"key": key, "failures": 0, "blocked_until": None}
        assert throttler.before_sign_in("ivan@example.com", "10.0.0.1", T0 + timedelta(seconds=2)).allowed


def test_a_prefix_with_pattern_characters_is_literal(app):
    throttler = app.extensions["idp"].throttler
    with app.app_context():
        throttler.before_sign_in("a@example.com", None, T0)
        assert throttler.store.find_prefix("signin:pair:*") == []
        assert throttler.store.find_prefix("signin:pair:%") == []
        assert throttler.store.find_prefix("signin:pair:_") == []
        assert len(throttler.store.find_prefix("signin:pair:")) == 1
