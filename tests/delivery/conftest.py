"""Test doubles and helpers shared by the outbox tests."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from idp.delivery import Courier, Delivery, DeliveryError
from idp.extensions import db


class ScriptedTransport:
    """A first-class test double: fails as scripted, records what it was given."""

    def __init__(self, failures=(), maybe_sent=False):
        self.failures = list(failures)
        self.maybe_sent = maybe_sent
        self.sent = []
        self.lock = threading.Lock()

    def send(self, message):
        with self.lock:
            if self.failures and self.failures.pop(0):
                raise DeliveryError("scripted refusal", maybe_sent=self.maybe_sent)
            self.sent.append(message)
            return f"id-{len(self.sent)}"


@pytest.fixture
def outbox_app(make_app):
    def _make(transport, **overrides):
        return make_app(courier=Courier({"email": transport, "sms": transport}), **overrides)
    return _make


def add_account(app, email="client@example.com"):
    from idp.accounts import create_account
    create_account(email=email, now=app.extensions["idp"].clock.now())
    db.session.commit()


def only_row():
    return db.session.execute(select(Delivery)).scalar_one()
