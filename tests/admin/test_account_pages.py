"""The contact centre's account pages (/admin/accounts…) on idp.support's rules, through the Flask test client."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.admin.conftest import PASSWORD, csrf_of, sign_in
from tests.admin.test_roles import SUPPORT_LOGIN, make_support  # noqa: F401  (a fixture)
from tests.http import codes
from tests.policies.conftest import policy_doc

PHONE = "+79161234567"


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def support_client(client, make_support):  # noqa: F811
    make_support()
    assert sign_in(client, SUPPORT_LOGIN).status_code == 302
    return client


@pytest.fixture
def insured(app):
    """Иванов Иван Иванович, 1980-05-17, ivan@example.com, +7 916 123-45-67, made by the policy system (the
    welcome e-mail and SMS queued); returns the account's sub."""
    from idp.accounts import Account
    from idp.extensions import db
    from idp.policies import issue_policy

    with app.app_context():
        issue_policy(app.extensions["idp"], policy_doc(number="LF-WEB-000001"), source="test")
        return db.session.execute(select(Account.subject).where(Account.phone == PHONE)).scalar_one()


def action_form(page: str, action: str) -> dict:
    form = re.search(rf'<form[^>]*id="action-{action}".*?</form>', page, re.S).group(0)
    return {"csrf_token": csrf_of(form), "token": re.search(r'name="token" value="([^"]+)"', form).group(1)}


def result_subs(page: str) -> list[str]:
    return re.findall(r'data-sub="([^"]+)"', page)


@pytest.mark.parametrize("query", ["8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "ivan@example.com",
                                   "IVAN@example.com", "LF-WEB-000001"])
def test_find_by_any_login_or_policy_number(support_client, insured, query):
    page = support_client.get("/admin/accounts", query_string={"q": query})
    assert page.status_code == 200 and result_subs(html(page)) == [insured]
    assert f'href="/admin/accounts/{insured}"' in html(page)


def test_find_by_sub_and_by_name_with_birth_date(support_client, insured):
    assert result_subs(html(support_client.get("/admin/accounts", query_string={"q": insured}))) == [insured]
    for birth in ("1980-05-17", "17.05.1980"):
        page = support_client.get("/admin/accounts", query_string={"name": "иванов иван", "birth_date": birth})
        assert result_subs(html(page)) == [insured], birth


def test_the_search_form_has_real_labels(support_client):
    page = html(support_client.get("/admin/accounts"))
    for field, label in (("q", "E-mail, телефон, номер полиса или sub"), ("name", "ФИО"),
                         ("birth_date", "Дата рождения")):
        assert f'<label for="{field}">{label}</label>' in page and f'id="{field}"' in page


def test_nothing_found_is_a_plain_answer(support_client, insured):
    page = support_client.get("/admin/accounts", query_string={"q": "+7 926 000-00-00"})
    assert page.status_code == 200 and codes(html(page)) == ["admin.accounts.none"]
    assert "Учётная запись не найдена." in html(page)


@pytest.mark.parametrize("args, field, code", [
    ({"q": "8 (916) 123-45"}, "q", "support.query.invalid_phone"),
    ({"q": "ivan@"}, "q", "support.query.invalid_email"),
    ({"name": "Иванов Иван"}, "birth_date", "support.query.too_broad"),
    ({"name": "Иванов", "birth_date": "17 мая"}, "birth_date", "admin.accounts.bad_birth_date"),
    ({"q": "a\x00b"}, "q", "support.query.invalid"),
])
def test_a_malformed_query_gets_a_clear_message_at_its_field(support_client, args, field, code):
    page = support_client.get("/admin/accounts", query_string=args)
    text = html(page)
    assert page.status_code == 400
    assert re.search(rf'<div class="field-errors" id="{field}-errors"><p class="field-error" data-code="{code}">',
                     text)
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', text)


def test_the_account_page_shows_everything_masked_and_audits_the_look(support_client, insured, app):
    from idp.audit import search

    page = support_client.get(f"/admin/accounts/{insured}")
    text = html(page)
    assert page.status_code == 200 and "Иванов Иван Иванович" in text
    assert "i***@example.com" in text and "+791***67" in text
    assert "ivan@example.com" not in text and PHONE not in text
    assert 'data-state="waiting"' in text and "Ожидает первый временный пароль" in text
    assert 'data-number="LF-WEB-000001"' in text
    assert re.search(r'data-purpose="account_created" data-channel="sms"', text)
    assert re.search(r'data-purpose="account_created" data-channel="email"', text)
    assert "admin.account.lockouts.none" in codes(text)
    with app.app_context():
        (event,) = search(event="support.viewed")
    assert event.details["operator"] == SUPPORT_LOGIN and event.details["via"] == "web"
    support_client.get(f"/admin/accounts/{insured}")
    with app.app_context():
        assert len(search(event="support.viewed")) == 2


def test_an_unknown_account_is_404(support_client):
    page = support_client.get("/admin/accounts/" + "0" * 32)
    assert page.status_code == 404 and codes(html(page)) == ["support.not_found"]


def test_each_action_form_has_a_labelled_reason_and_a_fresh_token(support_client, insured):
    first = html(support_client.get(f"/admin/accounts/{insured}"))
    second = html(support_client.get(f"/admin/accounts/{insured}"))
    for action in ("resend_welcome", "send_temporary_password", "unlock", "block", "sign_out"):
        assert f'<label for="reason-{action}">Причина</label>' in first
        assert re.search(rf'<textarea id="reason-{action}" name="reason"[^>]*required', first)
        assert action_form(first, action)["token"] != action_form(second, action)["token"]
    assert 'id="action-unblock"' not in first  # not blocked: nothing to unblock


def test_send_temporary_password_once_for_a_double_submit(support_client, insured, app):
    from idp.audit import search
    from idp.delivery.models import Delivery
    from idp.extensions import db

    page = html(support_client.get(f"/admin/accounts/{insured}"))
    form = {**action_form(page, "send_temporary_password"), "reason": "Клиент не получил СМС\r\nпозвонил"}
    first = support_client.post(f"/admin/accounts/{insured}/send_temporary_password", data=form)
    second = support_client.post(f"/admin/accounts/{insured}/send_temporary_password", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == f"/admin/accounts/{insured}#action-send_temporary_password"
    with app.app_context():
        (event,) = search(event="support.send_temporary_password")
        assert event.details["reason"] == "Клиент не получил СМС позвонил"
        assert event.details["operator"] == SUPPORT_LOGIN
        sent = db.session.execute(select(Delivery).where(Delivery.template == "temporary_password")).scalars().all()
        assert len(sent) == 1
    shown = html(support_client.get(f"/admin/accounts/{insured}"))
    assert codes(shown)[:2] == ["admin.account.send_temporary_password.done",
                                "admin.account.send_temporary_password.repeated"]
    assert 'data-purpose="temporary_password"' in shown and 'data-state="temporary_pending"' in shown


@pytest.mark.parametrize("reason, code", [("", "support.reason.required"), ("   ", "support.reason.required"),
                                          ("x" * 501, "support.reason.invalid")])
def test_an_action_without_a_reason_is_refused_at_the_field(support_client, insured, app, reason, code):
    from idp.audit import search

    page = html(support_client.get(f"/admin/accounts/{insured}"))
    response = support_client.post(f"/admin/accounts/{insured}/block",
                                   data={**action_form(page, "block"), "reason": reason})
    text = html(response)
    assert response.status_code == 400
    assert re.search(rf'id="reason-block-errors"><p class="field-error" data-code="{code}">', text)
    assert re.search(r'id="reason-block"[^>]*aria-invalid="true"', text)
    with app.app_context():
        assert search(event="support.block") == []


def test_block_and_unblock(support_client, insured, app):
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    support_client.post(f"/admin/accounts/{insured}/block", data={**action_form(page, "block"), "reason": "кража"})
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    assert 'data-state="blocked"' in page and "admin.account.block.done" in codes(page)
    assert 'id="action-block"' not in page
    support_client.post(f"/admin/accounts/{insured}/unblock",
                        data={**action_form(page, "unblock"), "reason": "клиент подтвердил личность"})
    assert 'data-state="waiting"' in html(support_client.get(f"/admin/accounts/{insured}"))


def test_unlock_lifts_a_lockout(support_client, insured, app, client_factory=None):
    from idp.audit import search

    services = app.extensions["idp"]
    with app.test_request_context():
        from idp.passwords.signin import authenticate

        for _ in range(6):
            authenticate(PHONE, "Wrong1234", services, __import__("idp.audit", fromlist=["Origin"]).Origin(
                ip="203.0.113.7"))
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    assert "admin.account.lockouts.none" not in codes(page) and "data-lockout=" in page
    support_client.post(f"/admin/accounts/{insured}/unlock",
                        data={**action_form(page, "unlock"), "reason": "клиент забыл пароль"})
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    assert "admin.account.lockouts.none" in codes(page) and "admin.account.unlock.done" in codes(page)
    with app.app_context():
        assert len(search(event="support.unlock")) == 1


def test_actions_need_csrf_and_a_known_action(support_client, insured, app):
    from idp.audit import search

    page = html(support_client.get(f"/admin/accounts/{insured}"))
    form = action_form(page, "sign_out")
    response = support_client.post(f"/admin/accounts/{insured}/sign_out", data={"token": form["token"],
                                                                                "reason": "x"})
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    assert support_client.post(f"/admin/accounts/{insured}/delete", data={**form, "reason": "x"}).status_code == 404
    assert support_client.get(f"/admin/accounts/{insured}/sign_out").status_code == 405
    with app.app_context():
        assert search(event="support.sign_out") == []


def test_admin_opens_the_account_pages_too(admin_client, insured):
    assert admin_client.get(f"/admin/accounts/{insured}").status_code == 200


def test_english(support_client, insured):
    page = html(support_client.get(f"/admin/accounts/{insured}?lang=en"))
    assert "Waiting for the first temporary password" in page and ">Reason</label>" in page


def test_every_text_of_the_account_pages_exists_in_both_languages(app):
    from idp.support import ACTIONS
    from idp.support.view import STATES

    catalogue = app.extensions["idp.catalogue"]
    codes_ = {f"admin.account.{a}{suffix}" for a in ACTIONS for suffix in ("", ".hint", ".button", ".done",
                                                                           ".repeated")}
    codes_ |= {f"admin.account.send_temporary_password.{s}" for s in ("limited", "delayed")}
    codes_ |= {f"admin.account.state.{s}" for s in STATES}
    codes_ |= {f"admin.accounts.{name}{suffix}" for name in ("query", "name", "birth_date")
               for suffix in ("", ".hint")}
    codes_ |= {f"error.{c}" for c in ("support.not_found", "support.query.invalid", "support.query.empty",
                                      "support.query.invalid_email", "support.query.invalid_phone",
                                      "support.query.too_broad", "support.reason.invalid",
                                      "support.reason.required", "support.token.invalid", "support.token.reused",
                                      "support.no_contact", "admin.accounts.bad_birth_date")}
    codes_ |= {f"admin.account.lockout.{c}" for c in ("login", "address")}
    with app.test_request_context():
        for locale in ("ru", "en"):
            assert sorted(c for c in codes_ if catalogue.text(locale, c) == c) == [], locale
        assert not [c for c in codes_ if re.search("[а-яё]", catalogue.text("en", c), re.I)]


@pytest.mark.parametrize("details, code", [({"limited": True}, "admin.account.send_temporary_password.limited"),
                                           ({"delivered": False}, "admin.account.send_temporary_password.delayed"),
                                           ({"delivered": True}, "admin.account.send_temporary_password.done")])
def test_the_flash_says_when_a_temporary_password_was_held_back_or_delayed(support_client, insured, monkeypatch,
                                                                          details, code):
    from idp import support

    monkeypatch.setattr(support, "perform", lambda services, operator, account, action, **kw: support.ActionResult(
        action, account.id, details=details))
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    support_client.post(f"/admin/accounts/{insured}/send_temporary_password",
                        data={**action_form(page, "send_temporary_password"), "reason": "звонок"})
    assert codes(html(support_client.get(f"/admin/accounts/{insured}")))[0] == code


def test_the_search_form_keeps_what_was_typed(support_client, insured):
    page = html(support_client.get("/admin/accounts", query_string={"name": "Иванов Иван",
                                                                     "birth_date": "17.05.1980"}))
    assert re.search(r'id="name" name="name" value="Иванов Иван"', page)
    assert re.search(r'id="birth_date" name="birth_date" value="17.05.1980"', page)
    page = html(support_client.get("/admin/accounts", query_string={"q": "8 (916) 123-45-67"}))
    assert re.search(r'id="q" name="q" value="8 \(916\) 123-45-67"', page)


JUNK = ["\x00", "\ufffd\ufeff", "x" * 40000, "😀" * 300, "\r\n" * 500, "%00", "{{ 7*7 }}", "<script>", "../..",
        "8" * 40, "+", "@", "'; drop table accounts; --"]


@pytest.mark.parametrize("junk", JUNK)
def test_no_500_from_anything_typed(support_client, insured, junk):
    for args in ({"q": junk}, {"name": junk, "birth_date": "1980-05-17"}, {"name": "Иванов", "birth_date": junk}):
        response = support_client.get("/admin/accounts", query_string=args)
        assert response.status_code in (200, 400), (args, response.status_code)
        assert "<script>" not in html(response)
    assert support_client.get("/admin/accounts/" + junk[:2000]).status_code < 500
    page = html(support_client.get(f"/admin/accounts/{insured}"))
    for field in ("reason", "token"):
        data = {**action_form(page, "unlock"), "reason": "звонок", field: junk}
        response = support_client.post(f"/admin/accounts/{insured}/unlock", data=data)
        assert response.status_code in (302, 400), (field, response.status_code)
