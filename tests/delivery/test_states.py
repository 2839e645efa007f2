"""``idp deliveries list``: every state of a message — queued, waiting for a retry, being sent, sent with the
provider's id, delivered, bounced, complained, failed, dead, superseded — recipients masked, never the text.

Filters: ``--status`` (every status, the receipts too), ``--failed``, ``--account`` (any form of the login)
and ``--since``. The rows come from the real outbox (:mod:`tests.delivery.states`).
"""
from __future__ import annotations

import json

import pytest

from idp.delivery.models import STATUSES
from tests.conftest import T0
from tests.delivery.states import (DEAD_ERROR, DETAILS, EMAIL, HANDED_OVER, MASKED_EMAIL, MASKED_PHONE,
                                   PASSWORD, PHONE, RETRY_ERROR, STATES, every_state, sealed_payloads)

FIELDS = {"id", "account_id", "channel", "recipient", "template", "status", "state", "attempts", "created_at",
          "next_attempt_at", "sent_at", "outcome_at", "provider_message_id", "last_error", "outcome_detail",
          "requeueable"}


@pytest.fixture
def app(make_app):
    return make_app(delivery_mode="worker")


def listed(run_cli, *args) -> list[dict]:
    result = run_cli("deliveries", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def assert_nothing_secret(app, ids, output: str):
    assert PASSWORD not in output and "Ваш новый пароль" not in output and "payload" not in output
    assert EMAIL not in output and PHONE not in output and "7654321" not in output
    for sealed in sealed_payloads(app, ids.values()):
        assert sealed not in output


def test_every_state_is_listed_with_its_fields(app, clock, run_cli):
    ids = every_state(app, clock)
    result = run_cli("deliveries", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    assert list(rows) == sorted(ids.values(), reverse=True)  # newest first
    assert_nothing_secret(app, ids, result.output)

    created, sent, receipt = "2026-11-25T09:00:00Z", "2026-11-25T09:01:00Z", "2026-11-25T09:03:00Z"
    for state, delivery_id in ids.items():
        row = rows[delivery_id]
        assert set(row) == FIELDS, state
        assert row["state"] == state and row["template"] == "temporary_password", state
        assert row["status"] == ("queued" if state == "retrying" else state)
        assert row["channel"] == STATES[state] and row["created_at"] == created
        assert row["recipient"] == (MASKED_PHONE if STATES[state] == "sms" else MASKED_EMAIL)
        if state in HANDED_OVER:  # the provider's message id from the hand-off, kept through the receipts
            assert row["provider_message_id"] and row["sent_at"] == sent and row["attempts"] == 1, state
        else:
            assert row["provider_message_id"] is None and row["sent_at"] is None, state
        if state in ("delivered", "bounced", "complained", "failed"):
            assert (row["outcome_at"], row["outcome_detail"]) == (receipt, DETAILS.get(state)), state
        else:
            assert row["outcome_at"] is None and row["outcome_detail"] is None, state
        assert row["requeueable"] is (state == "dead")

    assert (rows[ids["queued"]]["attempts"], rows[ids["queued"]]["last_error"]) == (0, None)
    assert rows[ids["queued"]]["next_attempt_at"] == created
    retrying = rows[ids["retrying"]]
    assert (retrying["last_error"], retrying["next_attempt_at"]) == (RETRY_ERROR, "2026-11-25T09:08:00Z")
    assert (rows[ids["dead"]]["last_error"], rows[ids["dead"]]["attempts"]) == (DEAD_ERROR, 6)
    assert rows[ids["sending"]]["status"] == "sending"


@pytest.mark.parametrize("status", STATUSES)
def test_each_status_is_a_filter(app, clock, run_cli, status):
    ids = every_state(app, clock)
    expected = sorted((i for state, i in ids.items()
                       if ("queued" if state == "retrying" else state) == status), reverse=True)
    assert expected, status
    rows = listed(run_cli, "--status", status)
    assert [row["id"] for row in rows] == expected
    assert all(set(row) == FIELDS and row["status"] == status for row in rows)


def test_failed_is_dead_letters_and_retries(app, clock, run_cli):
    ids = every_state(app, clock)
    rows = listed(run_cli, "--failed")
    assert [(row["id"], row["state"]) for row in rows] == [(ids["dead"], "dead"),
                                                           (ids["retrying"], "retrying")]
    assert [row["id"] for row in listed(run_cli, "--failed", "--status", "dead")] == [ids["dead"]]


def test_plain_output_has_no_secret_either(app, clock, run_cli):
    ids = every_state(app, clock)
    result = run_cli("deliveries", "list")
    assert result.exit_code == 0
    assert "status: bounced" in result.output and "bounce:Permanent/General" in result.output
    assert_nothing_secret(app, ids, result.output)


@pytest.mark.parametrize("login", [EMAIL, "Maria.Ivanova@EXAMPLE.com", "+7 916 765-43-21",
                                   "8 (916) 765 43 21", "89167654321"])
def test_account_in_any_form_of_its_login(app, clock, run_cli, make_account, login):
    from idp.delivery import enqueue
    from idp.extensions import db

    ids = every_state(app, clock)
    other = make_account(email="petr@example.com")
    with app.app_context():
        enqueue(app.extensions["idp"], "account_created", channel="email", recipient="petr@example.com",
                account_id=other.id, params={})
        db.session.commit()
    assert sorted(row["id"] for row in listed(run_cli, "--account", login)) == sorted(ids.values())
    bounced = listed(run_cli, "--account", login, "--status", "bounced")
    assert [row["id"] for row in bounced] == [ids["bounced"]]
    assert len(listed(run_cli)) == len(ids) + 1


def test_account_that_is_no_longer_there_is_found_by_its_address(app, clock, run_cli):
    from idp.accounts.models import Account
    from idp.extensions import db

    ids = every_state(app, clock)
    with app.app_context():
        db.session.delete(db.session.query(Account).filter_by(email=EMAIL).one())
        db.session.commit()
    email_ids = sorted((i for state, i in ids.items() if STATES[state] == "email"), reverse=True)
    assert [row["id"] for row in listed(run_cli, "--account", "MARIA.IVANOVA@example.com")] == email_ids
    assert listed(run_cli, "--account", "nobody@example.com") == []


def test_a_login_that_is_not_one_is_an_error(app, run_cli):
    result = run_cli("deliveries", "list", "--json", "--account", "not a login")
    assert result.exit_code == 1 and json.loads(result.output)["error"] == "login.invalid"


def test_since(app, clock, run_cli):
    from idp.delivery import enqueue
    from idp.extensions import db

    with app.app_context():
        old = enqueue(app.extensions["idp"], "account_created", channel="email", recipient="old@example.com",
                      account_id=None, params={}).id
        db.session.commit()
    clock.advance(days=2)
    ids = every_state(app, clock)
    newest_first = sorted(ids.values(), reverse=True)
    assert [row["id"] for row in listed(run_cli, "--since", "2026-11-26")] == newest_first
    assert [row["id"] for row in listed(run_cli, "--since", "2026-11-27T09:00:00Z")] == newest_first
    assert listed(run_cli, "--since", "2026-11-27T12:00:01+03:00") == []  # 09:00:01 UTC
    assert listed(run_cli, "--since", T0.isoformat())[-1]["id"] == old
    bad = run_cli("deliveries", "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "not an ISO date or time" in bad.output
