"""The admin pages for what the automation left to an admin: held policies (with the conflict and
«Перепроверить»), refusals by reason, failed messages (masked, «Отправить снова»)."""
from __future__ import annotations

import json
import re

import pytest

from idp.delivery import DEAD, QUEUED, SENT, Dispatcher
from tests.admin.cases import (AGENT, IVAN, dead_letters, delivery, events, flaky_courier, held_by_the_agent,
                               issue)
from tests.admin.conftest import csrf_of, sign_in
from tests.http import codes


@pytest.fixture
def delivery_mode():
    return "worker"


@pytest.fixture
def courier(settings):
    return flaky_courier(settings)


@pytest.fixture
def transport(courier):
    return courier[1]


@pytest.fixture
def app(make_app, courier, delivery_mode):
    return make_app(courier=courier[0], delivery_mode=delivery_mode, delivery_max_attempts=1)


def html(response) -> str:
    return response.get_data(as_text=True)


def post(client, path: str, page: str = "/admin/held"):
    """A form post with the CSRF token of ``page``, as a browser sends it."""
    return client.post(path, data={"csrf_token": csrf_of(html(client.get(page)))})


# -- who gets in --------------------------------------------------------------------------------------------


PAGES = ["/admin/held", "/admin/refused", "/admin/deliveries", "/admin/policies/LF-2"]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_sign_in(client, app, path):
    held_by_the_agent(app)
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_customer_gets_403(client, customer, app, path):
    held_by_the_agent(app)
    sign_in(client, customer.email)
    response = client.get(path)
    assert response.status_code == 403 and codes(html(response)) == ["admin.forbidden"]


def test_customer_cannot_recheck_or_requeue(client, customer, app, transport):
    held_by_the_agent(app)
    [dead, _] = dead_letters(app, transport)
    sign_in(client, customer.email)
    token = csrf_of(html(client.get("/account")))
    assert client.post("/admin/policies/LF-2/recheck", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/deliveries/{dead}/requeue", data={"csrf_token": token}).status_code == 403
    assert delivery(app, dead).status == DEAD
    assert events(app, "admin.*") == []


def test_anonymous_post_changes_nothing(client, app, transport):
    [dead, _] = dead_letters(app, transport)
    token = csrf_of(html(client.get("/login")))
    response = client.post(f"/admin/deliveries/{dead}/requeue", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?")
    assert delivery(app, dead).status == DEAD


def test_actions_need_the_csrf_token(admin_client, app, transport):
    held_by_the_agent(app)
    [dead, _] = dead_letters(app, transport)
    response = admin_client.post("/admin/policies/LF-2/recheck")
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    response = admin_client.post(f"/admin/deliveries/{dead}/requeue", data={"csrf_token": "forged"})
    assert response.status_code == 400 and codes(html(response)) == ["csrf"]
    assert delivery(app, dead).status == DEAD
    assert events(app, "admin.*") == [] and events(app, "delivery.requeued") == []


def test_actions_are_not_get(admin_client, app, transport):
    [dead, _] = dead_letters(app, transport)
    assert admin_client.get(f"/admin/deliveries/{dead}/requeue").status_code == 405
    assert delivery(app, dead).status == DEAD


# -- held policies ------------------------------------------------------------------------------------------


def test_held_list_names_the_reason_and_the_accounts_by_login(admin_client, app):
    held_by_the_agent(app)
    issue(app, number="LF-3", person={"phone": None, "email": "olga@example.com", "full_name": "Ольга Ким"})
    page = admin_client.get("/admin/held")
    text = html(page)
    assert page.status_code == 200 and "<h1>Полисы, ожидающие решения</h1>" in text
    assert re.findall(r'data-number="([^"]+)"', text) == ["LF-3", "LF-2"]  # newest first
    assert 'data-code="policy.reason.contact_belongs_to_another_person"' in text
    assert 'data-code="policy.reason.missing_phone"' in text
    assert "принадлежит учётной записи другого человека" in text
    lf2 = text[text.index('data-number="LF-2"'):]
    assert f'data-contact="email" data-login="{AGENT}" data-same-person="no"' in lf2
    assert "Сидоров Сидор, 1970-01-01" in lf2 and "другой человек" in lf2
    assert "→ account" not in text and "account 1" not in text  # logins, never internal ids
    assert 'aria-current="page"' in text and "Перепроверить" in text


def test_held_page_in_english(admin_client, app):
    held_by_the_agent(app)
    text = html(admin_client.get("/admin/held?lang=en"))
    assert '<html lang="en">' in text and "<h1>Held policies</h1>" in text
    assert "another person (another name or birth date)" in text and "Check again" in text


def test_empty_lists_say_so(admin_client):
    assert "admin.held.empty" in codes(html(admin_client.get("/admin/held")))
    assert "admin.refused.empty" in codes(html(admin_client.get("/admin/refused")))
    assert "admin.deliveries.empty" in codes(html(admin_client.get("/admin/deliveries")))


def test_detail_page_reports_the_conflict_and_what_to_do(admin_client, app):
    held_by_the_agent(app)
    page = admin_client.get("/admin/policies/LF-2")
    text = html(page)
    assert page.status_code == 200 and "<h1>Полис LF-2</h1>" in text
    assert 'data-state="held"' in text and f'data-login="{AGENT}"' in text
    assert "admin.hint.contact_belongs_to_another_person" in codes(text)
    assert "idp accounts update" in text
    assert "Иванов Иван Иванович, 1980-05-17" in text and AGENT in text and "+7 916 123-45-67" in text


def test_recheck_creates_the_account_once_the_data_is_fixed(admin_client, app, admin, run_cli, mailbox):
    held_by_the_agent(app)
    with app.app_context():  # Сидоров's welcome goes out
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["sent"] == 2
    response = post(admin_client, "/admin/policies/LF-2/recheck", "/admin/policies/LF-2")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/policies/LF-2"
    page = html(admin_client.get("/admin/policies/LF-2"))
    assert "admin.recheck.held" in codes(page) and 'data-state="held"' in page

    # The admin gives Сидоров his own e-mail: the page says the way is clear before the recheck.
    fixed = run_cli("accounts", "update", AGENT, "--email", "sidorov@example.com", "--json")
    assert fixed.exit_code == 0, fixed.output
    page = html(admin_client.get("/admin/policies/LF-2"))
    assert "admin.conflict.cleared" in codes(page) and f'data-login="{AGENT}"' not in page

    response = post(admin_client, "/admin/policies/LF-2/recheck", "/admin/policies/LF-2")
    page = html(admin_client.get(response.headers["Location"]))
    assert "admin.recheck.account_created" in codes(page) and 'data-state="attached"' in page
    assert "Перепроверить" not in page
    with app.app_context():
        from idp.accounts import get_by_login

        created = get_by_login(AGENT)
        assert created.full_name == IVAN["full_name"] and created.phone == "+79161234567"
    assert 'data-number="LF-2"' not in html(admin_client.get("/admin/held"))

    # Welcome messages are queued (worker mode) and go out with the dispatcher.
    with app.app_context():
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict()["sent"] == 2
    assert mailbox.last("+79161234567")["template"] == "account_created"
    assert [m["template"] for m in mailbox.messages(AGENT)] == ["account_created"] * 2

    # A second press changes nothing and creates nothing.
    post(admin_client, "/admin/policies/LF-2/recheck", "/admin/policies/LF-2")
    rechecks = events(app, "admin.policy_recheck")
    assert [e.details["result"] for e in rechecks] == ["updated", "account_created", "held"]
    assert all(e.account_id == admin.id and e.details["via"] == "web" and e.details["number"] == "LF-2"
               for e in rechecks)
    assert len(events(app, "account.created")) == 3  # admin, Сидоров, Иванов


def test_account_of_an_unknown_person_is_confirmed_with_name_and_birth_date(admin_client, app, run_cli):
    """An operator-made account without a name: the policy waits until an admin records whose it is."""
    assert run_cli("accounts", "create", "--email", "ivan@example.com").exit_code == 0
    held = issue(app, number="LF-1")
    assert held["reason"] == "account_person_unknown"
    page = html(admin_client.get("/admin/policies/LF-1"))
    assert 'data-contact="email" data-login="ivan@example.com" data-same-person="unknown"' in page
    assert "владелец учётной записи не записан" in page and "admin.hint.account_person_unknown" in codes(page)

    fixed = run_cli("accounts", "update", "ivan@example.com", "--name", "Иванов Иван Иванович",
                    "--birth-date", "1980-05-17", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.output)["changed"] == ["full_name", "birth_date"]
    page = html(admin_client.get("/admin/policies/LF-1"))
    assert 'data-same-person="yes"' in page and "1980-05-17" in page
    response = post(admin_client, "/admin/policies/LF-1/recheck", "/admin/policies/LF-1")
    page = html(admin_client.get(response.headers["Location"]))
    assert "admin.recheck.attached" in codes(page) and 'data-state="attached"' in page
    shown = json.loads(run_cli("accounts", "show", "ivan@example.com", "--json").output)
    assert shown["phone"] == "+79161234567"  # the policy's phone joined the account it lacked


@pytest.mark.parametrize("delivery_mode", ["inline"])
def test_recheck_in_inline_mode_sends_the_welcome_at_once(admin_client, app, run_cli, mailbox):
    held_by_the_agent(app)
    run_cli("accounts", "update", AGENT, "--email", "sidorov@example.com")
    post(admin_client, "/admin/policies/LF-2/recheck", "/admin/policies/LF-2")
    # Сидоров's welcome went to the agent's address before; Иванов's now goes there and to his phone.
    assert [m["template"] for m in mailbox.messages(AGENT)] == ["account_created"] * 2
    assert mailbox.last("+79161234567")["template"] == "account_created"


@pytest.mark.parametrize("number", ["NOPE", "x" * 300, "a%00b", "LF-2/x", "%D0%9F"])
def test_unknown_policy_is_404(admin_client, app, number):
    held_by_the_agent(app)
    response = admin_client.get(f"/admin/policies/{number}")
    assert response.status_code == 404
    token = csrf_of(html(admin_client.get("/admin/held")))
    response = admin_client.post(f"/admin/policies/{number}/recheck", data={"csrf_token": token})
    assert response.status_code == 404 and codes(html(response)) == ["policy.not_found"]


def test_policy_number_with_a_slash(admin_client, app):
    issue(app, number="DMS/2026/7", person={"phone": None})
    assert admin_client.get("/admin/policies/DMS/2026/7").status_code == 200
    response = post(admin_client, "/admin/policies/DMS/2026/7/recheck")
    assert response.headers["Location"] == "/admin/policies/DMS/2026/7"


# -- refusals -----------------------------------------------------------------------------------------------


def test_refused_list_filters_by_reason(admin_client, app):
    issue(app, number="CR-1", kind="credit")
    issue(app, number="DMS-1", kind="corporate", product="dms",
          employer={"name": "ООО «Ромашка»", "includes_account": False})
    issue(app, number="OLD-1", status="expired", person={"email": "old@example.com", "phone": "+79030000000"})
    text = html(admin_client.get("/admin/refused"))
    assert re.findall(r'data-number="([^"]+)"', text) == ["OLD-1", "DMS-1", "CR-1"]
    assert "Кредитное страхование: личный кабинет для него пока недоступен." in text
    assert "ООО «Ромашка»" in text and '<label for="reason">' in text
    assert "<form" in text and "recheck" not in text  # read-only
    only = html(admin_client.get("/admin/refused?reason=credit_linked"))
    assert re.findall(r'data-number="([^"]+)"', only) == ["CR-1"]
    assert '<option value="credit_linked" selected>' in only
    detail = html(admin_client.get("/admin/policies/CR-1"))
    assert 'data-state="refused"' in detail and "Перепроверить" not in detail


@pytest.mark.parametrize("query, code", [
    ("reason=missing_email", "query.reason"), ("reason=%00", "query.reason"), ("reason=" + "x" * 5000, "query.reason"),
])
def test_refused_bad_reason_is_400(admin_client, query, code):
    response = admin_client.get("/admin/refused?" + query)
    assert response.status_code == 400 and codes(html(response))[0] == code


# -- pages of a list ----------------------------------------------------------------------------------------


def test_lists_are_paged(admin_client, app):
    for n in range(53):
        issue(app, number=f"CR-{n:03d}", kind="credit")
    first = html(admin_client.get("/admin/refused"))
    assert len(re.findall(r'data-number="', first)) == 50 and 'data-total="53"' in first
    assert 'href="/admin/refused?page=2"' in first and "Страница 1 из 2" in first
    second = html(admin_client.get("/admin/refused?page=2"))
    assert re.findall(r'data-number="([^"]+)"', second) == ["CR-002", "CR-001", "CR-000"]
    assert 'rel="prev"' in second and 'rel="next"' not in second
    filtered = html(admin_client.get("/admin/refused?reason=credit_linked"))
    assert 'href="/admin/refused?page=2&amp;reason=credit_linked"' in filtered
    past = admin_client.get("/admin/refused?page=9")
    assert past.status_code == 200 and "admin.list.past_end" in codes(html(past))


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999999999999999999", "%D9%A1", "%00", "%20", "1e3"])
@pytest.mark.parametrize("path", ["/admin/held", "/admin/refused", "/admin/deliveries"])
def test_bad_page_numbers_are_400_not_500(admin_client, path, page):
    response = admin_client.get(f"{path}?page={page}")
    if page == "%20":
        assert response.status_code == 200  # blank: the first page
    else:
        assert response.status_code == 400 and codes(html(response)) == ["query.page"]
        assert "Номер страницы — целое число от 1." in html(response)


# -- failed messages ----------------------------------------------------------------------------------------


def test_failed_messages_are_listed_masked_without_their_text(admin_client, app, transport):
    dead, sms = dead_letters(app, transport)
    page = admin_client.get("/admin/deliveries")
    text = html(page)
    assert page.status_code == 200 and "<h1>Сообщения клиентам</h1>" in text
    assert re.findall(r'data-delivery-id="(\d+)" data-status="(\w+)"', text) == [(str(sms), "dead"),
                                                                                (str(dead), "dead")]
    assert "a***@example.com" in text and "+791***11" in text
    assert "anna@example.com" not in text and "+79165550011" not in text
    assert "SES unreachable: EndpointConnectionError" in text and "приветствие новой учётной записи" in text
    assert text.count("Отправить снова") == 2
    assert "Уважаемый клиент" not in text and "payload" not in text


def test_temporary_password_is_never_shown(admin_client, app, transport, make_account):
    from idp.passwords.reset import issue_pending, request_temporary_password

    make_account(email="ivan@example.com")
    transport.down = True
    with app.app_context():
        request_temporary_password("ivan@example.com", app.extensions["idp"])
        issue_pending(app.extensions["idp"])
        Dispatcher(app.extensions["idp"]).run_due()
    transport.down = False
    text = html(admin_client.get("/admin/deliveries"))
    assert "временный пароль" in text and "i***@example.com" in text
    assert not re.search(r"Временный пароль - [A-Za-z0-9]{8}", text)


def test_retrying_messages_are_listed_and_filtered(admin_client, app, transport):
    [dead, sms] = dead_letters(app, transport)
    with app.app_context():
        from idp.delivery import Delivery
        from idp.extensions import db

        row = db.session.get(Delivery, sms)
        row.status = QUEUED  # waiting for its next attempt after a failed one
        db.session.commit()
    retrying = html(admin_client.get("/admin/deliveries?status=retrying"))
    assert re.findall(r'data-delivery-id="(\d+)"', retrying) == [str(sms)]
    assert "ждёт повторной попытки" in retrying and "Отправить снова" not in retrying
    only_dead = html(admin_client.get("/admin/deliveries?status=dead"))
    assert re.findall(r'data-delivery-id="(\d+)"', only_dead) == [str(dead)]
    response = admin_client.get("/admin/deliveries?status=bounce")
    assert response.status_code == 400 and codes(html(response)) == ["query.status"]


def test_requeue_moves_a_dead_letter_back_and_the_dispatcher_sends_it(admin_client, app, admin, transport,
                                                                     mailbox):
    dead, sms = dead_letters(app, transport)
    response = post(admin_client, f"/admin/deliveries/{dead}/requeue", "/admin/deliveries")
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/deliveries#delivery-{dead}"
    row = delivery(app, dead)
    assert (row.status, row.attempts) == (QUEUED, 0)
    assert "admin.deliveries.requeued.queued" in codes(html(admin_client.get("/admin/deliveries")))
    assert mailbox.messages() == []

    with app.app_context():
        assert Dispatcher(app.extensions["idp"]).run_due().as_dict() == {"sent": 1, "retrying": 0, "dead": 0}
    assert delivery(app, dead).status == SENT and delivery(app, sms).status == DEAD
    [message] = mailbox.messages()
    assert message["to"] == "anna@example.com" and message["template"] == "account_created"

    [requeued] = events(app, "delivery.requeued")
    assert requeued.details == {"delivery_id": dead, "channel": "email", "purpose": "account_created",
                                "via": "web"}
    [action] = events(app, "admin.delivery_requeue")
    assert action.account_id == admin.id and action.details == {"delivery_id": dead, "via": "web"}
    assert {e.details["delivery_id"] for e in events(app, "delivery.dead")} == {dead, sms}


@pytest.mark.parametrize("delivery_mode", ["inline"])
def test_requeue_in_inline_mode_sends_at_once(admin_client, app, transport, mailbox):
    dead, _ = dead_letters(app, transport)
    response = post(admin_client, f"/admin/deliveries/{dead}/requeue", "/admin/deliveries")
    assert "admin.deliveries.requeued.sent" in codes(html(admin_client.get(response.headers["Location"])))
    assert delivery(app, dead).status == SENT and mailbox.last("anna@example.com")


def test_requeue_of_a_message_that_is_not_dead_is_refused(admin_client, app, transport):
    dead, _ = dead_letters(app, transport)
    post(admin_client, f"/admin/deliveries/{dead}/requeue", "/admin/deliveries")
    response = post(admin_client, f"/admin/deliveries/{dead}/requeue", "/admin/deliveries")
    assert response.status_code == 302
    assert "admin.deliveries.not_requeueable" in codes(html(admin_client.get("/admin/deliveries")))
    assert len(events(app, "delivery.requeued")) == 1


@pytest.mark.parametrize("delivery_id", ["999", "abc", "-1", "0", "1.0", "99999999999999999999", "2147483648",
                                         "%00"])
def test_requeue_of_an_unknown_message_is_404(admin_client, delivery_id):
    token = csrf_of(html(admin_client.get("/admin/deliveries")))
    response = admin_client.post(f"/admin/deliveries/{delivery_id}/requeue", data={"csrf_token": token})
    assert response.status_code == 404 and codes(html(response)) == ["delivery.not_found"]
