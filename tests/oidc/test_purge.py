"""``idp purge``: expired codes, tokens, temporary passwords and sessions go; evidence stays for a grace."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from idp.extensions import db
from idp.oidc.models import AuthorizationCode, OAuthToken
from idp.passwords.models import TemporaryPassword
from idp.passwords.reset import request_temporary_password
from idp.sessions.models import BrowserSession
from tests.oidc.conftest import signed_in_code

KINDS = {"authorization_codes": AuthorizationCode, "tokens": OAuthToken,
         "temporary_passwords": TemporaryPassword, "sessions": BrowserSession}
EVERYTHING = [*KINDS, "expired_messages", "reset_requests"]


def counts(app) -> dict:
    with app.app_context():
        return {name: db.session.execute(select(func.count()).select_from(model)).scalar_one()
                for name, model in KINDS.items()}


def purge(run_cli, *args) -> dict:
    result = run_cli("purge", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_purge_keeps_live_and_recent_rows_and_removes_the_expired(app, rp, flow, customer, clock, run_cli):
    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    token = rp.exchange(code, request).json()
    with app.app_context():
        request_temporary_password("client@example.com", app.extensions["idp"])
    before = counts(app)
    assert all(before.values()), before

    assert purge(run_cli) == dict.fromkeys(EVERYTHING, 0)  # nothing has expired yet
    clock.advance(hours=2)  # the code has expired, but within the grace it is still evidence
    assert purge(run_cli)["authorization_codes"] == 0
    replayed = rp.exchange(code, request)
    assert replayed.status_code == 400 and rp.userinfo(token["access_token"]).status_code == 401

    clock.advance(days=2)  # code, session (12 h) and temporary password (24 h) past expiry + grace
    removed = purge(run_cli)
    assert removed == {"authorization_codes": 1, "tokens": 0, "temporary_passwords": 1, "sessions": 1,
                       "expired_messages": 0, "reset_requests": 0}  # the message was sent: nothing to withdraw
    assert counts(app)["tokens"] == before["tokens"]  # the refresh token (30 days) is still valid evidence
    with app.app_context():  # which clients the session had (back-channel logout) went with it
        from idp.sessions import BrowserSessionClient

        assert db.session.execute(select(func.count()).select_from(BrowserSessionClient)).scalar_one() == 0

    clock.advance(days=31)
    assert purge(run_cli)["tokens"] == before["tokens"]
    assert counts(app) == dict.fromkeys(KINDS, 0)


def test_purge_grace_is_configurable_and_validated(run_cli):
    assert run_cli("purge", "--grace-hours", "0").exit_code == 2
    assert purge(run_cli, "--grace-hours", "48") == dict.fromkeys(EVERYTHING, 0)
