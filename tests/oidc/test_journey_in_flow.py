"""The seed's journey inside the authorization flow: from the portal, «Забыли пароль?», the temporary
password from the mailbox, the forced change, sign in again — and back in the portal with a code."""
from __future__ import annotations

from idp.oidc.models import unix
from tests.conftest import T0
from tests.http import codes


def test_first_sign_in_from_the_portal_lands_back_with_a_code(rp, flow, make_account, mailbox):
    account = make_account(email="client@example.com", phone="+79161234567")
    request = rp.authorization(login_hint="client@example.com")
    page = flow.start(request)
    assert "Вход в личный кабинет" in page.text and 'value="client@example.com"' in page.text

    browser = flow.browser
    page = browser.submit("/login", {"login": "client@example.com", "password": "", "action": "forgot"})
    assert "reset.sent_email" in codes(page.text)
    temporary = mailbox.temporary_password("client@example.com")

    page = browser.submit("/login", {"login": "client@example.com", "password": temporary,
                                     "action": "signin"})
    assert page.url.endswith("/password/change"), page.url
    # Must change the password: no code, not even silently.
    silent = rp.authorization(prompt="none")
    assert rp.callback(flow.start(silent).url, silent)["error"] == "login_required"
    page = browser.get("/password/change")

    page = browser.submit("/password/change", {"temporary": temporary, "new": "Polis2026",
                                               "confirm": "Polis2026"})
    assert "Вход в личный кабинет" in page.text and "password.changed" in codes(page.text)
    page = browser.submit("/login", {"login": "client@example.com", "password": "Polis2026",
                                     "action": "signin"})

    code = rp.callback(page.url, request)["code"]
    token = rp.exchange(code, request).json()
    claims = rp.id_token_claims(token["id_token"], now=unix(T0), nonce=request.nonce)
    assert claims["sub"] == account.subject


def test_account_that_must_change_its_password_never_gets_a_code(rp, flow, make_account, mailbox):
    make_account(email="new@example.com")
    request = rp.authorization()
    flow.start(request)
    browser = flow.browser
    browser.submit("/login", {"login": "new@example.com", "password": "", "action": "forgot"})
    temporary = mailbox.temporary_password("new@example.com")
    page = browser.submit("/login", {"login": "new@example.com", "password": temporary, "action": "signin"})
    assert page.url.endswith("/password/change")
    assert not any("code=" in hop.headers.get("Location", "") for hop in page.history)
    # Going back to the authorization request only leads to the sign-in page again.
    page = browser.get(request.url)
    assert "Вход в личный кабинет" in page.text and "code=" not in page.url


def test_account_without_a_password_gets_no_token_from_an_old_code(app, rp, flow, customer):
    """Belt and braces: if the password is cleared after a code was issued, the code gives nothing."""
    from idp.accounts import Account
    from idp.extensions import db
    from tests.oidc.conftest import signed_in_code

    request = rp.authorization()
    code = signed_in_code(flow, rp, request)
    with app.app_context():
        db.session.get(Account, customer.id).password_hash = None
        db.session.commit()
    assert rp.exchange(code, request).json()["error"] == "invalid_grant"
