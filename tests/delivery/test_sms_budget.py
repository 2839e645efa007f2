"""The SMS budget (issue 23, item 5): at most ``IDP_SMS_PER_HOUR`` SMS in all and
``IDP_SMS_PER_PHONE_PER_DAY`` to one phone; beyond that SMS wait in the outbox until the window's end, not
counted as a failed attempt, and a metric and a log line say so. Temporary passwords keep the last fifth of
every hour for themselves. The counters are the throttler's store (here the test database: SQLite, or
PostgreSQL with ``IDP_TEST_DATABASE_URL``); the clock is the tests' frozen one (``T0`` = 09:00 UTC).
"""
from __future__ import annotations

import logging
from datetime import datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from idp.delivery import EMAIL, QUEUED, SENT, SMS, Delivery, Dispatcher, enqueue
from idp.delivery.budget import window_end
from idp.extensions import db
from idp.settings import Settings, SettingsError
from tests.delivery.conftest import ScriptedTransport

PHONES = [f"+7916123450{n}" for n in range(10)]


def deferred(limit: str) -> float:
    return REGISTRY.get_sample_value("idp_sms_deferred_total", {"limit": limit}) or 0.0


def queue(app, recipients, purpose="temporary_password", channel=SMS) -> list[int]:
    services = app.extensions["idp"]
    login_url = services.settings.issuer + "/login"
    params = {"temporary_password": {"password": "K5rduj6o", "login_url": login_url},
              "account_created": {"login_url": login_url, "site_url": "lk.metlife.ru",
                                  "email": "client@example.com", "phone": "+7 916 123-45-67"}}[purpose]
    rows = [enqueue(services, purpose, channel=channel, recipient=r, account_id=None, params=params)
            for r in recipients]
    db.session.commit()
    return [row.id for row in rows]


def rows(ids) -> list[Delivery]:
    db.session.expire_all()
    return [db.session.get(Delivery, i) for i in ids]


@pytest.fixture
def budget_app(outbox_app):
    def _make(**overrides):
        transport = ScriptedTransport()
        return outbox_app(transport, delivery_mode="worker", **overrides), transport
    return _make


def test_beyond_the_hourly_budget_sms_wait_for_the_next_hour(budget_app, clock, caplog):
    app, transport = budget_app(sms_per_hour=3)
    clock.advance(minutes=20)  # 09:20
    before = deferred("hour")
    with app.app_context(), caplog.at_level(logging.WARNING, logger="idp.delivery"):
        ids = queue(app, PHONES[:5])
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 3, "retrying": 2, "dead": 0}
        held = rows(ids)[3:]
        for row in held:  # waiting, not failing: no attempt counted, no error, due when the hour turns
            assert (row.status, row.attempts, row.last_error) == (QUEUED, 0, None)
            assert row.next_attempt_at == datetime(2026, 11, 25, 10, 0)
        assert deferred("hour") - before == 2
        lines = [r.getMessage() for r in caplog.records if "SMS budget" in r.getMessage()]
        assert len(lines) == 2 and "IDP_SMS_PER_HOUR=3" in lines[0] and "until 2026-11-25T10:00" in lines[0]
        assert "+791***0" in lines[0] and PHONES[3] not in lines[0]  # the number masked

        clock.advance(minutes=39, seconds=59)  # 09:59:59: still this hour, nothing due
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
        clock.advance(seconds=1)  # 10:00
        assert dispatcher.run_due().as_dict() == {"sent": 2, "retrying": 0, "dead": 0}
        assert [row.status for row in rows(ids)] == [SENT] * 5
    assert len(transport.sent) == 5


def test_a_phone_gets_a_few_sms_a_day_then_waits_for_the_next_day(budget_app, clock):
    app, transport = budget_app(sms_per_phone_per_day=2)
    before = deferred("phone")
    with app.app_context():
        ids = queue(app, [PHONES[0]] * 3 + [PHONES[1]])
        email = queue(app, ["client@example.com"] * 3, channel=EMAIL)  # e-mail has no such budget
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 6, "retrying": 1, "dead": 0}
        third = rows(ids)[2]
        assert (third.status, third.attempts, third.next_attempt_at) == (QUEUED, 0, datetime(2026, 11, 26))
        assert [row.status for row in rows(ids[3:] + email)] == [SENT] * 4
        assert deferred("phone") - before == 1

        clock.advance(hours=14, minutes=59)  # 23:59 the same day
        assert dispatcher.run_due().as_dict() == {"sent": 0, "retrying": 0, "dead": 0}
        clock.advance(minutes=1)  # midnight UTC
        assert dispatcher.run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
    assert [m.recipient for m in transport.sent].count(PHONES[0]) == 3


def test_temporary_passwords_keep_the_last_fifth_of_the_hour(budget_app, clock):
    """Ten SMS an hour: welcome SMS may use eight; a customer's temporary password still goes out."""
    app, transport = budget_app(sms_per_hour=10)
    with app.app_context():
        welcome = queue(app, PHONES, purpose="account_created")
        dispatcher = Dispatcher(app.extensions["idp"])
        assert dispatcher.run_due().as_dict() == {"sent": 8, "retrying": 2, "dead": 0}
        passwords = queue(app, PHONES[:3])
        assert dispatcher.run_due().as_dict() == {"sent": 2, "retrying": 1, "dead": 0}  # the hour's last two
        assert [row.status for row in rows(passwords)] == [SENT, SENT, QUEUED]
        held = {row.next_attempt_at for row in rows(welcome) if row.status == QUEUED}
        assert held == {datetime(2026, 11, 25, 10)}
    assert len(transport.sent) == 10


def test_a_held_sms_is_no_failure_whatever_the_attempt_limit(budget_app, clock):
    """Held six hours in a row with ``IDP_DELIVERY_MAX_ATTEMPTS=1``: never dead, never counted."""
    app, transport = budget_app(sms_per_hour=1, delivery_max_attempts=1)
    with app.app_context():
        dispatcher = Dispatcher(app.extensions["idp"])
        for hour in range(6):
            queue(app, [PHONES[hour]])  # one new SMS an hour takes the hour's budget first…
        assert dispatcher.run_due().as_dict() == {"sent": 1, "retrying": 5, "dead": 0}
        for _ in range(5):
            clock.advance(hours=1)
            assert dispatcher.run_due().as_dict()["dead"] == 0
        statuses = db.session.execute(select(Delivery.status, Delivery.attempts)).all()
        assert sorted(statuses) == [(SENT, 1)] * 6
    assert len(transport.sent) == 6


def test_window_end_matches_the_counters_windows():
    at = datetime(2026, 11, 25, 9, 20, 5)
    assert window_end(at, 3600) == datetime(2026, 11, 25, 10)
    assert window_end(at, 86400) == datetime(2026, 11, 26)
    assert window_end(datetime(2026, 11, 25, 10), 3600) == datetime(2026, 11, 25, 11)


def test_budget_settings_have_defaults_and_are_validated():
    settings = Settings.from_env(environ={})
    assert (settings.sms_per_hour, settings.sms_per_phone_per_day) == (1000, 10)
    parsed = Settings.from_env(environ={"IDP_SMS_PER_HOUR": "250", "IDP_SMS_PER_PHONE_PER_DAY": "5"})
    assert (parsed.sms_per_hour, parsed.sms_per_phone_per_day) == (250, 5)
    for variable in ("IDP_SMS_PER_HOUR", "IDP_SMS_PER_PHONE_PER_DAY"):
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env(environ={variable: "0"})
        with pytest.raises(SettingsError, match=variable):
            Settings.from_env(environ={variable: "lots"})


def test_the_budget_counts_in_the_shared_store_across_dispatchers(budget_app, clock):
    """Two dispatchers (two workers) share the hour's budget: it is the store's count, not a worker's."""
    app, transport = budget_app(sms_per_hour=4)
    with app.app_context():
        queue(app, PHONES[:3])
        services = app.extensions["idp"]
        assert Dispatcher(services).run_due().as_dict()["sent"] == 3
        queue(app, PHONES[3:6])
        assert Dispatcher(services).run_due().as_dict() == {"sent": 1, "retrying": 2, "dead": 0}
    assert len(transport.sent) == 4
