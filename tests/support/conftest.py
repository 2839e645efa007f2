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


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app.extensions["idp"]


def account_of(customer):
    from idp.accounts import Account
    from idp.extensions import db

    return db.session.get(Account, customer["account_id"])


@pytest.fixture
def signed_in(app):
    """``signed_in(account_id)``: a browser session, a consent and a token (refresh + access) at a client
    «Личный кабинет» for the account, committed; returns (client_id, token row id)."""
    import hashlib
    from datetime import timedelta

    from idp.clients import create_client
    from idp.extensions import db
    from idp.oidc import OAuthToken, grant_consent
    from idp.sessions import start_session
    from idp.accounts import Account

    def _make(account_id: int):
        services = app.extensions["idp"]
        now = services.clock.now()
        account = db.session.get(Account, account_id)
        start_session(account, now=now, lifetime=services.settings.session_lifetime)
        client = create_client(services.settings, name="Личный кабинет", redirect_uris=["https://lk.example.com/cb"],
                               scopes=["openid", "profile"], now=now).client
        grant_consent(account_id, client, "openid profile", now=now)
        token = OAuthToken(access_token_hash=hashlib.sha256(b"a%d" % account_id).hexdigest(),
                           refresh_token_hash=hashlib.sha256(b"r%d" % account_id).hexdigest(),
                           client_pk=client.id, account_id=account_id, scope="openid profile",
                           grant_type="authorization_code", issued_at=now,
                           access_expires_at=now + timedelta(hours=1), refresh_expires_at=now + timedelta(days=30))
        db.session.add(token)
        db.session.commit()
        return client.client_id, token.id

    return _make
