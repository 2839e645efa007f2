"""Rotating IDP_SECRET_KEY: each kind of signed or sealed value made under the old key is still accepted while
that key is listed in IDP_PREVIOUS_SECRET_KEYS, refused once it is dropped, and `idp secrets rekey` moves
what is stored to the new key.

Apps with different keys share one database here (``make_app`` overrides), as instances do during a rotation.
The end-to-end rotation with two gunicorn instances is in ``test_secret_rotation_live.py``.
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import event, select, update

from idp.audit.models import AuditEvent
from idp.clients import OAuthClient, check_secret, create_client, hash_secret
from idp.clients.secrets import is_legacy, legacy_hash, rekeyed, upgraded
from idp.delivery import DEAD, SENT, Dispatcher, enqueue
from idp.delivery.models import Delivery
from idp.delivery.sealing import Sealer, SealError
from idp.extensions import db
from idp.oidc.interaction import read_reauth, sign_reauth
from idp.passwords.models import ResetRequest
from idp.passwords.reset import issue_pending, request_temporary_password
from idp.secret_keys import SecretKeys, Unreadable, key_id
from idp.settings import Settings, SettingsError
from tests.conftest import T0
from tests.http import codes

OLD = "test-secret-key-" + "x" * 32  # the suite's IDP_SECRET_KEY (tests/conftest.py)
NEW = "rotated-secret-key-" + "y" * 32
ROTATING = SecretKeys(NEW, (OLD,))
PASSWORD = "Polis2026"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def after_rotation(make_app, **overrides):
    """An app with the new key, the old one still accepted."""
    return make_app(secret_key=NEW, previous_secret_keys=OLD, **overrides)


def without_old_key(make_app, **overrides):
    return make_app(secret_key=NEW, **overrides)


# -- the setting ---------------------------------------------------------------------------------------------

def test_previous_keys_are_read_validated_and_never_shown(tmp_path):
    env = {"IDP_SECRET_KEY": NEW, "IDP_PREVIOUS_SECRET_KEYS": f" {OLD} , {'z' * 40},",
           "IDP_INSTANCE_DIR": str(tmp_path)}
    settings = Settings.from_env(env)
    assert settings.secret_keys.current == NEW and settings.secret_keys.previous == (OLD, "z" * 40)
    assert NEW not in repr(settings) and OLD not in repr(settings) and OLD not in repr(settings.secret_keys)
    assert key_id(OLD) in repr(settings.secret_keys)
    for previous, message in ((NEW, "repeats IDP_SECRET_KEY"), (f"{OLD},{OLD}", "lists a key twice")):
        with pytest.raises(SettingsError, match=message) as caught:
            Settings.from_env({**env, "IDP_PREVIOUS_SECRET_KEYS": previous})
        assert OLD not in str(caught.value) and NEW not in str(caught.value)
    production = {**env, "IDP_ENV": "production", "IDP_ISSUER": "https://lk.example.test",
                  "IDP_PASSWORD_PEPPER": "p" * 40, "IDP_EMAIL_TRANSPORT": "ses", "IDP_SMS_TRANSPORT": "sns",
                  "IDP_DELIVERY_MODE": "worker", "IDP_PREVIOUS_SECRET_KEYS": "short-old-key"}
    with pytest.raises(SettingsError, match="IDP_PREVIOUS_SECRET_KEYS: a key is shorter than 32") as caught:
        Settings.from_env(production)
    assert "short-old-key" not in str(caught.value)


# -- sealed values -------------------------------------------------------------------------------------------

def test_a_sealed_value_names_its_key_and_opens_only_under_it():
    sealed = SecretKeys(OLD).seal("purpose", b"data")
    assert sealed.startswith(key_id(OLD) + ".")
    assert ROTATING.open("purpose", sealed) == b"data"
    with pytest.raises(Unreadable, match="not an accepted secret key"):
        SecretKeys(NEW).open("purpose", sealed)
    with pytest.raises(Unreadable):
        ROTATING.open("another purpose", sealed)
    # The key named is the key used: a value relabelled with another accepted key's id does not open.
    relabelled = key_id(NEW) + sealed[len(key_id(OLD)):]
    with pytest.raises(Unreadable):
        ROTATING.open("purpose", relabelled)
    moved = ROTATING.reseal("purpose", sealed)
    assert moved.startswith(key_id(NEW) + ".") and SecretKeys(NEW).open("purpose", moved) == b"data"
    assert ROTATING.reseal("purpose", moved) == moved


def test_a_message_sealed_under_the_old_key_opens_while_it_is_accepted():
    params = {"password": "Abcdef12", "login_url": "https://lk.example.test/login"}
    sealed = Sealer(SecretKeys(OLD)).seal(params)
    assert "Abcdef12" not in sealed
    assert Sealer(ROTATING).open(sealed) == params
    with pytest.raises(SealError):
        Sealer(SecretKeys(NEW)).open(sealed)
    assert Sealer(SecretKeys(NEW)).open(Sealer(ROTATING).reseal(sealed)) == params


def test_a_message_of_the_first_format_still_opens_under_an_accepted_key():
    import base64
    import hashlib
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    # As the provider sealed payloads before keys could be rotated: no key id.
    context = b"idp/delivery-payload/v1"
    nonce = os.urandom(12)
    data = json.dumps({"password": "Abcdef12"}).encode()
    first = base64.urlsafe_b64encode(
        nonce + AESGCM(hashlib.sha256(context + OLD.encode()).digest()).encrypt(nonce, data, context)
    ).decode()
    assert Sealer(ROTATING).open(first) == {"password": "Abcdef12"}
    assert Sealer(SecretKeys(OLD)).open(first) == {"password": "Abcdef12"}
    with pytest.raises(SealError):
        Sealer(SecretKeys(NEW)).open(first)
    assert Sealer(SecretKeys(NEW)).open(Sealer(ROTATING).reseal(first)) == {"password": "Abcdef12"}


def test_the_dispatcher_delivers_a_message_queued_under_the_old_key(make_app, mailbox):
    old = make_app(delivery_mode="worker")
    with old.app_context():
        services = old.extensions["idp"]
        row = enqueue(services, "temporary_password", channel="email", recipient="client@example.com",
                      account_id=None, params={"password": "Abcdef12", "login_url": "https://x/login"})
        db.session.commit()
        queued = row.id
    new = after_rotation(make_app, delivery_mode="worker")
    with new.app_context():
        report = Dispatcher(new.extensions["idp"]).run_due()
        assert report.as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
        assert db.session.get(Delivery, queued).status == SENT
    assert "Abcdef12" in mailbox.last("client@example.com")["text"]


def test_a_message_under_a_dropped_key_is_a_dead_letter_saying_why(make_app, mailbox):
    old = make_app(delivery_mode="worker")
    with old.app_context():
        enqueue(old.extensions["idp"], "temporary_password", channel="email", recipient="client@example.com",
                account_id=None, params={"password": "Abcdef12", "login_url": "https://x/login"})
        db.session.commit()
    new = without_old_key(make_app, delivery_mode="worker")
    with new.app_context():
        assert Dispatcher(new.extensions["idp"]).run_due().as_dict()["dead"] == 1
        row = db.session.execute(select(Delivery)).scalar_one()
        assert row.status == DEAD and "IDP_PREVIOUS_SECRET_KEYS" in row.last_error
        assert OLD not in row.last_error
    assert mailbox.messages() == []


# -- the re-authentication marker ----------------------------------------------------------------------------

def test_a_reauth_marker_signed_with_the_old_key_counts_while_it_is_accepted():
    marker = sign_reauth(SecretKeys(OLD), T0, "digest")
    later = T0 + timedelta(minutes=5)
    assert read_reauth(ROTATING, marker, later, "digest") is not None
    assert read_reauth(SecretKeys(NEW), marker, later, "digest") is None
    assert read_reauth(ROTATING, marker, later, "another request") is None
    fresh = sign_reauth(ROTATING, T0, "digest")  # signed with the new key
    assert read_reauth(SecretKeys(NEW), fresh, later, "digest") is not None
    assert read_reauth(SecretKeys(OLD), fresh, later, "digest") is None


# -- client secrets ------------------------------------------------------------------------------------------

def test_a_client_secret_hashed_under_the_old_key_checks_while_it_is_accepted_and_moves_to_the_new_one():
    stored = hash_secret("the-secret", SecretKeys(OLD))
    assert stored.startswith(f"aead${key_id(OLD)}.") and len(stored) <= 100 and "the-secret" not in stored
    assert check_secret("the-secret", stored, ROTATING) and not check_secret("another", stored, ROTATING)
    assert not check_secret("the-secret", stored, SecretKeys(NEW))
    moved = rekeyed(stored, ROTATING)  # without the secret
    assert moved.startswith(f"aead${key_id(NEW)}.") and check_secret("the-secret", moved, SecretKeys(NEW))
    assert upgraded("the-secret", stored, ROTATING) is None  # re-keying is `rekey`'s, not authentication's


def test_a_client_hash_of_the_first_format_checks_under_any_accepted_key_and_is_upgraded_during_a_rotation():
    first = legacy_hash("the-secret", OLD)
    assert is_legacy(first) and first.startswith("hmac-sha256$")
    assert check_secret("the-secret", first, SecretKeys(OLD)) and check_secret("the-secret", first, ROTATING)
    assert not check_secret("the-secret", first, SecretKeys(NEW)) and not check_secret("x", first, ROTATING)
    with pytest.raises(ValueError, match="without the secret"):
        rekeyed(first, ROTATING)
    assert upgraded("the-secret", first, SecretKeys(OLD)) is None  # no rotation under way: left as it is
    new = upgraded("the-secret", first, ROTATING)
    assert new.startswith(f"aead${key_id(NEW)}.") and check_secret("the-secret", new, SecretKeys(NEW))


def _token(client, client_id: str, secret: str):
    return client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def _service_client(app, secret_hash: str | None = None) -> tuple[str, str]:
    with app.app_context():
        made, secret = create_client(app.extensions["idp"].settings, name="Сервис",
                                     grant_types=["client_credentials"], scopes=["policies:write"], now=T0)
        if secret_hash is not None:
            made.secret_hash = secret_hash(secret)
        db.session.commit()
        return made.client_id, secret


def _stored_hash(app, client_id: str) -> str:
    with app.app_context():
        value = db.session.execute(
            select(OAuthClient.secret_hash).where(OAuthClient.client_id == client_id)).scalar_one()
        db.session.rollback()
        return value


def test_the_token_endpoint_takes_a_secret_under_the_old_key_and_upgrades_the_first_format(make_app):
    old = make_app()
    sealed_id, sealed_secret = _service_client(old)
    first_id, first_secret = _service_client(old, lambda secret: legacy_hash(secret, OLD))
    assert _token(old.test_client(), first_id, first_secret).status_code == 200
    assert is_legacy(_stored_hash(old, first_id))  # no rotation under way: not touched

    rotating = after_rotation(make_app).test_client()
    assert _token(rotating, sealed_id, sealed_secret).status_code == 200
    assert _stored_hash(old, sealed_id).startswith(f"aead${key_id(OLD)}.")  # moved by `rekey`, not here
    assert _token(rotating, first_id, "wrong" + first_secret).status_code == 401
    assert is_legacy(_stored_hash(old, first_id))
    assert _token(rotating, first_id, first_secret).status_code == 200
    assert _stored_hash(old, first_id).startswith(f"aead${key_id(NEW)}.")  # proven: stored in the new format
    assert _token(rotating, first_id, first_secret).status_code == 200

    dropped = without_old_key(make_app).test_client()
    assert _token(dropped, sealed_id, sealed_secret).status_code == 401  # still under the old key: refused
    assert _token(dropped, first_id, first_secret).status_code == 200


# -- session cookies and CSRF tokens -------------------------------------------------------------------------

def _cookie(client) -> str:
    return client.get_cookie("idp_session").value


def _signed_in_cookie(app, make_account) -> str:
    make_account(email="client@example.com", password=PASSWORD)
    browser = app.test_client()
    token = unescape(_CSRF.search(browser.get("/login").text).group(1))
    response = browser.post("/login", data={"csrf_token": token, "login": "client@example.com",
                                            "password": PASSWORD, "action": "signin"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    return _cookie(browser)


def _with_cookie(app, value: str):
    browser = app.test_client()
    browser.set_cookie("idp_session", value)
    return browser


def test_a_session_cookie_signed_with_the_old_key_stays_signed_in_and_is_signed_again_with_the_new(
        make_app, make_account):
    old = make_app()
    cookie = _signed_in_cookie(old, make_account)

    browser = _with_cookie(after_rotation(make_app), cookie)
    page = browser.get("/account")
    assert page.status_code == 200 and "client@example.com" in page.text
    resigned = _cookie(browser)
    assert resigned != cookie  # saved again, under the new key

    dropped = without_old_key(make_app)
    assert _with_cookie(dropped, cookie).get("/account").status_code == 302  # the old cookie: signed out
    page = _with_cookie(dropped, resigned).get("/account")
    assert page.status_code == 200 and "client@example.com" in page.text
    assert _with_cookie(old, resigned).get("/account").status_code == 302  # the old key alone: refused


def test_a_csrf_token_signed_with_the_old_key_is_accepted_while_it_is_accepted(make_app, make_account):
    make_account(email="client@example.com", password=PASSWORD)
    old = make_app()
    browser = old.test_client()
    token = unescape(_CSRF.search(browser.get("/login").text).group(1))  # signed with the old key
    # The cookie (with the session's half of the token) moves to the new key on its first request there.
    rotating = after_rotation(make_app)
    moved = _with_cookie(rotating, _cookie(browser))
    moved.get("/login?lang=ru")
    cookie = _cookie(moved)

    form = {"csrf_token": token, "login": "client@example.com", "password": "Wrong1234", "action": "signin"}
    refused = _with_cookie(without_old_key(make_app), cookie).post("/login", data=form)
    assert refused.status_code == 400 and "csrf" in refused.text.lower()
    answered = _with_cookie(rotating, cookie).post("/login", data=form)
    assert answered.status_code == 200 and "signin.invalid" in codes(answered.text)
    signed_in = _with_cookie(rotating, cookie).post("/login", data={**form, "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith("/account")


# -- idp secrets rekey ---------------------------------------------------------------------------------------

def _stored(app) -> dict:
    with app.app_context():
        values = {
            "clients": dict(db.session.execute(select(OAuthClient.client_id, OAuthClient.secret_hash)).all()),
            "deliveries": dict(db.session.execute(select(Delivery.id, Delivery.payload)).all()),
            "resets": dict(db.session.execute(select(ResetRequest.id, ResetRequest.payload)).all()),
        }
        db.session.rollback()
        return values


def test_rekey_moves_everything_stored_to_the_new_key_and_says_what_it_cannot(make_app, mailbox):
    from idp.cli import cli

    old = make_app(delivery_mode="worker")
    sealed_id, sealed_secret = _service_client(old)
    first_id, first_secret = _service_client(old, lambda secret: legacy_hash(secret, OLD))
    with old.app_context():
        services = old.extensions["idp"]
        request_temporary_password("+7 916 123-45-67", services)  # a reset request, sealed
        enqueue(services, "temporary_password", channel="email", recipient="client@example.com",
                account_id=None, params={"password": "Abcdef12", "login_url": "https://x/login"})
        db.session.commit()
    before = _stored(old)
    assert all(value.startswith(key_id(OLD))
               for value in (*before["deliveries"].values(), *before["resets"].values()))

    rotating = after_rotation(make_app, delivery_mode="worker")
    result = rotating.test_cli_runner().invoke(cli, ["secrets", "rekey"])
    assert result.exit_code == 1, result.output
    assert "client secrets: 1 re-keyed" in result.output and "queued messages: 1 re-keyed" in result.output
    assert "reset requests: 1 re-keyed" in result.output
    assert "STILL UNDER AN OLD KEY" in result.output and first_id in result.output
    assert "first format" in result.output and OLD not in result.output and NEW not in result.output
    after = _stored(rotating)
    assert after["clients"][sealed_id].startswith(f"aead${key_id(NEW)}.")
    assert is_legacy(after["clients"][first_id])
    assert all(value.startswith(key_id(NEW) + ".")
               for value in (*after["deliveries"].values(), *after["resets"].values()))

    # The client in the first format authenticates once while the old key is accepted: nothing is left.
    assert _token(rotating.test_client(), first_id, first_secret).status_code == 200
    result = rotating.test_cli_runner().invoke(cli, ["secrets", "rekey", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["done"] is True and report["remaining"] == {}
    assert report["rekeyed"]["client secrets"] == {"rekeyed": 0, "current": 2, "changed_meanwhile": 0,
                                                   "not_rekeyed": 0}  # run twice: nothing more to do
    assert rotating.test_cli_runner().invoke(cli, ["secrets", "status"]).exit_code == 0
    with rotating.app_context():  # each run in the audit trail, with key ids only
        runs = db.session.execute(select(AuditEvent).where(AuditEvent.event == "secrets.rekeyed")
                                  .order_by(AuditEvent.id)).scalars().all()
        assert [(run.details["rekeyed"], run.details["remaining"]) for run in runs] == [
            ({"client secrets": 1, "queued messages": 1, "reset requests": 1}, 1),
            ({"client secrets": 0, "queued messages": 0, "reset requests": 0}, 0)]
        assert runs[0].details["key"] == key_id(NEW) and runs[0].details["operator"].startswith("cli:")
        assert OLD not in json.dumps(runs[0].details) and NEW not in json.dumps(runs[0].details)

    # Without the old key, everything still works: both clients, the reset request, the queued message.
    dropped = without_old_key(make_app, delivery_mode="worker")
    for client_id, secret in ((sealed_id, sealed_secret), (first_id, first_secret)):
        assert _token(dropped.test_client(), client_id, secret).status_code == 200
    with dropped.app_context():
        services = dropped.extensions["idp"]
        issue_pending(services)  # the phone is no account: the request is consumed, nothing is sent
        assert Dispatcher(services).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
    assert "Abcdef12" in mailbox.last("client@example.com")["text"]


def test_rekey_leaves_a_row_changed_meanwhile_as_it_is(make_app):
    """A sender that sends (and erases) a message between rekey's read and its write wins: the message is not
    brought back under the new key."""
    from idp.cli import cli

    old = make_app(delivery_mode="worker")
    with old.app_context():
        enqueue(old.extensions["idp"], "temporary_password", channel="email", recipient="client@example.com",
                account_id=None, params={"password": "Abcdef12", "login_url": "https://x/login"})
        db.session.commit()
    rotating = after_rotation(make_app, delivery_mode="worker")
    with rotating.app_context():
        engine = db.engine
    sent_meanwhile = []

    def sender_first(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE DELIVERIES") and not sent_meanwhile:
            sent_meanwhile.append(True)
            with engine.begin() as other:  # another connection: the dispatcher of another instance
                other.execute(update(Delivery).values(status=SENT, payload=None))

    event.listen(engine, "before_cursor_execute", sender_first)
    try:
        result = rotating.test_cli_runner().invoke(cli, ["secrets", "rekey", "--json"])
    finally:
        event.remove(engine, "before_cursor_execute", sender_first)
    assert sent_meanwhile and result.exit_code == 0, result.output
    assert json.loads(result.output)["rekeyed"]["queued messages"] == {
        "rekeyed": 0, "current": 0, "changed_meanwhile": 1, "not_rekeyed": 0}
    with rotating.app_context():
        row = db.session.execute(select(Delivery)).scalar_one()
        assert row.status == SENT and row.payload is None


def test_rekey_reports_values_under_a_key_no_longer_accepted(make_app):
    from idp.cli import cli

    gone = "a-key-already-dropped-" + "q" * 32
    lost = make_app(secret_key=gone, delivery_mode="worker")
    with lost.app_context():
        enqueue(lost.extensions["idp"], "temporary_password", channel="email", recipient="client@example.com",
                account_id=None, params={"password": "Abcdef12", "login_url": "https://x/login"})
        db.session.commit()
    result = after_rotation(make_app).test_cli_runner().invoke(cli, ["secrets", "rekey"])
    assert result.exit_code == 1
    assert f"queued messages: 1 under key {key_id(gone)}, which is not an accepted key" in result.output
    assert gone not in result.output
