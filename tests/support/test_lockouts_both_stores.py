"""Lockouts on the account page and «unlock», with the counters in the database and in Redis."""
from __future__ import annotations

from idp.audit import Origin
from idp.extensions import db
from idp.passwords.signin import OK, THROTTLED, authenticate
from idp.support import account_view, unlock
from tests.support.conftest import account_of
from tests.throttling.conftest import app  # noqa: F401  (every test here: database and Redis)


def test_lockouts_shown_and_lifted(app, customer, operator, clock):  # noqa: F811
    with app.app_context():
        services = app.extensions["idp"]
        account = account_of(customer)
        account.password_hash = services.hasher.hash("Polis2026")
        db.session.commit()
        for address in ("203.0.113.9", "198.51.100.7"):
            for _ in range(6):
                authenticate("ivan@example.com", "Wrong2026", services, Origin(ip=address))
        for _ in range(6):
            authenticate("+7 916 123-45-67", "Wrong2026", services, Origin(ip="203.0.113.9"))
        lockouts = account_view(services, account_of(customer), clock.now())["lockouts"]
        assert sorted((row["login"], row["counter"]) for row in lockouts) == [
            ("email", "address"), ("email", "address"), ("phone", "address")]
        assert all(0 < row["seconds_left"] <= 3600 and row["failures"] >= 5 for row in lockouts)
        clock.advance(seconds=1)
        later = account_view(services, account_of(customer), clock.now())["lockouts"]
        assert [row["seconds_left"] for row in later] == [row["seconds_left"] - 1 for row in lockouts]

        result = unlock(services, operator, account_of(customer), reason="клиент сам себя заблокировал")
        assert result.details["counters"] == 5
        assert account_view(services, account_of(customer), clock.now())["lockouts"] == []
        for address in ("203.0.113.9", "198.51.100.7"):
            assert authenticate("ivan@example.com", "Polis2026", services, Origin(ip=address)).outcome == OK
        assert authenticate("89161234567", "Polis2026", services, Origin(ip="203.0.113.9")).outcome == OK


def test_unlock_leaves_other_logins_locked(app, customer, operator, make_account):  # noqa: F811
    with app.app_context():
        services = app.extensions["idp"]
        make_account(email="other@example.com", password="Polis2026")
        for _ in range(6):
            authenticate("other@example.com", "Wrong2026", services, Origin(ip="203.0.113.9"))
        unlock(services, operator, account_of(customer), reason="x")
        assert authenticate("other@example.com", "Polis2026", services,
                            Origin(ip="203.0.113.9")).outcome == THROTTLED
