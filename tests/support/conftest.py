"""Fixtures for the contact centre's rules: a customer with a policy (account, welcome, person), an operator."""
from __future__ import annotations

import pytest

from tests.policies.conftest import policy_doc


@pytest.fixture
def customer(app):
    """A customer made by the policy system: Иванов Иван Иванович, 1980-05-17, ivan@example.com,
    +7 916 123-45-67, policy LF-SUP-000001 attached; the welcome e-mail and SMS queued/sent. Returns a dict
    of ids (account_id, subject, number)."""
    from idp.extensions import db
    from idp.policies import issue_policy
    from idp.accounts import Account
    from sqlalchemy import select

    with app.app_context():
        doc = policy_doc(number="LF-SUP-000001")
        issue_policy(app.extensions["idp"], doc, source="test")
        account = db.session.execute(select(Account).where(Account.email == "ivan@example.com")).scalar_one()
        return {"account_id": account.id, "subject": account.subject, "number": "LF-SUP-000001",
                "email": "ivan@example.com", "phone": "+79161234567"}


@pytest.fixture
def operator():
    from idp.audit import Origin
    from idp.support import Operator

    return Operator(login="agent@example.com", via="web", origin=Origin(ip="10.0.0.5"), account_id=None)
