"""Hashes made before the pepper (bcrypt over a plain SHA-256) keep working and are rewritten in the peppered
format at the customer's next successful sign-in, through the real sign-in page."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from idp.accounts import Account
from idp.extensions import db
from idp.passwords import PasswordHasher, TemporaryPassword
from idp.passwords.hashing import PREFIX
from idp.settings import DEVELOPMENT_PASSWORD_PEPPER
from tests.passwords.test_hashing import legacy_hash
from tests.http import codes
from tests.web.test_pages import csrf

LOGIN = "client@example.com"
PASSWORD = "Polis2026"


def sign_in(client, password=PASSWORD, login=LOGIN):
    return client.post("/login", data={"csrf_token": csrf(client), "login": login, "password": password,
                                       "action": "signin"})


def stored(app, login=LOGIN) -> Account:
    with app.app_context():
        account = db.session.execute(select(Account).where(Account.email == login)).scalar_one()
        db.session.expunge(account)
        return account


def set_hash(app, value: str, login=LOGIN) -> None:
    with app.app_context():
        db.session.execute(update(Account).where(Account.email == login).values(password_hash=value))
        db.session.commit()


def test_the_app_hashes_with_the_configured_pepper(make_app, clock):
    from idp.accounts import create_account

    app = make_app(password_pepper="configured-pepper-" + "c" * 32)
    with app.app_context():
        account = create_account(email=LOGIN, now=clock.now())
        account.password_hash = app.extensions["idp"].hasher.hash(PASSWORD)
        db.session.commit()
    hashed = stored(app).password_hash
    assert hashed.startswith(PREFIX) and "configured-pepper" not in hashed
    assert PasswordHasher(4, "configured-pepper-" + "c" * 32).verify(PASSWORD, hashed)
    assert not PasswordHasher(4, DEVELOPMENT_PASSWORD_PEPPER).verify(PASSWORD, hashed)


def test_a_legacy_hash_signs_in_and_is_upgraded(app, client, make_account, services):
    make_account(email=LOGIN, password=PASSWORD)
    old = legacy_hash(PASSWORD)
    set_hash(app, old)
    changed_at = stored(app).password_changed_at

    page = sign_in(client)
    assert page.status_code == 302 and page.headers["Location"].endswith("/account")

    account = stored(app)
    assert account.password_hash != old and account.password_hash.startswith(PREFIX)
    assert not services.hasher.needs_upgrade(account.password_hash)
    assert services.hasher.verify(PASSWORD, account.password_hash)
    assert account.password_changed_at == changed_at  # the same password, only stored better
    fresh = app.test_client()
    assert sign_in(fresh).headers["Location"].endswith("/account")  # and it signs in again
    assert stored(app).password_hash == account.password_hash  # nothing left to upgrade


def test_a_failed_sign_in_does_not_upgrade(app, client, make_account):
    make_account(email=LOGIN, password=PASSWORD)
    old = legacy_hash(PASSWORD)
    set_hash(app, old)
    page = sign_in(client, password="Wrong2026")
    assert page.status_code == 200 and codes(page.get_data(as_text=True)) == ["signin.invalid"]
    assert stored(app).password_hash == old


def test_a_hash_made_with_another_pepper_does_not_sign_in(app, client, make_account):
    make_account(email=LOGIN, password=PASSWORD)
    set_hash(app, PasswordHasher(4, "another-pepper-" + "q" * 32).hash(PASSWORD))
    page = sign_in(client)
    assert page.status_code == 200 and codes(page.get_data(as_text=True)) == ["signin.invalid"]


def test_a_legacy_temporary_password_works_until_used_and_the_new_password_is_peppered(app, client,
                                                                                        make_account, clock):
    """A temporary password issued before the pepper is verified as it is (it lives a day at most); the
    permanent password chosen with it is stored in the new format."""
    make_account(email=LOGIN)
    with app.app_context():
        account_id = stored(app).id
        db.session.add(TemporaryPassword(account_id=account_id, password_hash=legacy_hash("Tmp4Xyzk"), channel="email",
                                         created_at=clock.now(), expires_at=clock.now() + timedelta(hours=24)))
        db.session.commit()
    page = sign_in(client, password="Tmp4Xyzk")
    assert page.status_code == 302 and page.headers["Location"].endswith("/password/change")
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": "Tmp4Xyzk", "new": "Strah2027", "confirm": "Strah2027"})
    assert page.status_code == 302, page.get_data(as_text=True)
    assert stored(app).password_hash.startswith(PREFIX)


def test_a_password_changed_during_the_upgrade_stays_changed(app, make_account, services, monkeypatch):
    """The upgrade rewrites the hash only if it is still the one just verified."""
    from idp.passwords.signin import OK, authenticate

    make_account(email=LOGIN, password=PASSWORD)
    set_hash(app, legacy_hash(PASSWORD))
    changed = services.hasher.hash("Strah2027")
    real_hash = services.hasher.hash

    def hash_while_another_request_changes_the_password(password):
        with db.engine.begin() as other:  # another request, its own connection, committed meanwhile
            other.execute(update(Account).where(Account.email == LOGIN).values(password_hash=changed))
        return real_hash(password)

    monkeypatch.setattr(services.hasher, "hash", hash_while_another_request_changes_the_password)
    with app.app_context():
        assert authenticate(LOGIN, PASSWORD, services).outcome == OK
        db.session.remove()
    assert stored(app).password_hash == changed
