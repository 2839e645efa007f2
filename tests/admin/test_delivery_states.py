"""Every state of a message in the admin area (``/admin/deliveries``) and the admin API
(``GET /api/admin/deliveries?status=…``): the state in the seed's words, its times and the provider's message
id; recipients masked, never the text. The rows come from the real outbox (:mod:`tests.delivery.states`);
every API answer is checked against the OpenAPI document (:class:`tests.admin.conftest.Api`).
"""
from __future__ import annotations

import re

import pytest

from idp.delivery.failures import FILTERS
from tests.delivery.states import (DEAD_ERROR, EMAIL, MASKED_EMAIL, MASKED_PHONE, PASSWORD, PHONE,
                                   RETRY_ERROR, STATES, every_state, sealed_payloads)
from tests.http import codes

#: What each filter of the page and the API lists, by the rows' states.
SHOWS = {"failed": ["retrying", "dead"], "all": list(STATES), "queued": ["queued", "retrying"],
         "retrying": ["retrying"], "sending": ["sending"], "sent": ["sent"], "delivered": ["delivered"],
         "bounced": ["bounced"], "complained": ["complained"], "undelivered": ["failed"], "dead": ["dead"],
         "superseded": ["superseded"]}
RUSSIAN = {"queued": "в очереди", "retrying": "ждёт повторной попытки", "sending": "отправляется",
           "sent": "отправлено", "delivered": "доставлено", "bounced": "возвращено",
           "complained": "отмечено как спам", "failed": "не доставлено", "dead": "не отправлено",
           "superseded": "заменено более новым"}
ENGLISH = {"queued": "queued", "retrying": "waiting for a retry", "sending": "sending", "sent": "sent",
           "delivered": "delivered", "bounced": "bounced", "complained": "marked as spam",
           "failed": "not delivered", "dead": "dead", "superseded": "superseded by a newer message"}


@pytest.fixture
def app(make_app):
    return make_app(delivery_mode="worker")


def html(response) -> str:
    return response.get_data(as_text=True)


def cards(text: str) -> dict[int, str]:
    """Each message's card on the page, by id."""
    found = re.findall(r'<li class="case" id="delivery-(\d+)"(.*?)</li>', text, re.S)
    return {int(i): card for i, card in found}


def field(card: str, name: str) -> str | None:
    found = re.search(rf'data-field="{name}">(.*?)</dd>', card, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else None


def assert_nothing_secret(app, ids, text: str):
    assert PASSWORD not in text and "Ваш новый пароль" not in text and "payload" not in text
    assert EMAIL not in text and PHONE not in text and "7654321" not in text
    for sealed in sealed_payloads(app, ids.values()):
        assert sealed not in text


def test_page_shows_every_state_in_russian_with_times_and_provider_id(admin_client, app, clock):
    ids = every_state(app, clock)
    response = admin_client.get("/admin/deliveries?status=all")
    text = html(response)
    assert response.status_code == 200 and "<h1>Сообщения клиентам</h1>" in text
    assert_nothing_secret(app, ids, text)
    shown = cards(text)
    assert list(shown) == sorted(ids.values(), reverse=True)
    for state, delivery_id in ids.items():
        card = shown[delivery_id]
        assert f'data-state="{state}"' in card
        assert re.search(rf'data-field="state">{RUSSIAN[state]}</span>', card), state
        assert field(card, "recipient") == (MASKED_PHONE if STATES[state] == "sms" else MASKED_EMAIL)
        assert field(card, "created_at") == "2026-11-25 09:00 UTC"
        assert field(card, "purpose") == "временный пароль"
        if state in ("sent", "delivered", "bounced", "complained", "failed"):
            assert field(card, "sent_at") == "2026-11-25 09:01 UTC", state
            assert field(card, "provider_message_id"), state
            assert "Номер у провайдера" in card and "Отправлено" in card
        else:
            assert field(card, "sent_at") is None and field(card, "provider_message_id") is None, state
        if state in ("delivered", "bounced", "complained", "failed"):
            assert field(card, "outcome_at") == "2026-11-25 09:03 UTC" and "Отчёт провайдера получен" in card
        else:
            assert field(card, "outcome_at") is None, state
        assert ("Отправить снова" in card) is (state == "dead")
    assert field(shown[ids["bounced"]], "outcome_detail") == "bounce:Permanent/General"
    assert field(shown[ids["complained"]], "outcome_detail") == "complaint:abuse"
    assert field(shown[ids["delivered"]], "outcome_detail") is None
    assert field(shown[ids["retrying"]], "last_error") == RETRY_ERROR
    assert field(shown[ids["retrying"]], "next_attempt_at") == "2026-11-25 09:08 UTC"
    assert field(shown[ids["dead"]], "last_error") == DEAD_ERROR


def test_page_in_english(admin_client, app, clock):
    ids = every_state(app, clock)
    text = html(admin_client.get("/admin/deliveries?status=all&lang=en"))
    assert '<html lang="en">' in text and "<h1>Messages to customers</h1>" in text
    shown = cards(text)
    for state, delivery_id in ids.items():
        assert re.search(rf'data-field="state">{ENGLISH[state]}</span>', shown[delivery_id]), state
    assert "Provider&#39;s message id" in text and "Provider&#39;s report received" in text
    assert "Сообщения клиентам" not in text and "Номер у провайдера" not in text


@pytest.mark.parametrize("which", FILTERS)
def test_page_filter_lists_the_messages_of_one_state(admin_client, app, clock, which):
    ids = every_state(app, clock)
    response = admin_client.get(f"/admin/deliveries?status={which}")
    assert response.status_code == 200
    text = html(response)
    shown = cards(text)
    assert list(shown) == sorted((ids[state] for state in SHOWS[which]), reverse=True)
    for state in SHOWS[which]:
        assert f'data-state="{state}"' in shown[ids[state]]
        assert re.search(rf'data-field="state">{RUSSIAN[state]}</span>', shown[ids[state]]), state
    assert re.search(rf'<option value="{which}" selected>', text)
    assert_nothing_secret(app, ids, text)


def test_page_offers_every_filter_in_russian(admin_client, app):
    text = html(admin_client.get("/admin/deliveries"))
    offered = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', text)
    assert [value for value, _, _ in offered] == list(FILTERS)
    assert [value for value, selected, _ in offered if selected] == ["failed"]  # what needs an admin, first
    labels = dict((value, label) for value, _, label in offered)
    assert labels["all"] == "все сообщения" and labels["delivered"] == "доставленные"
    assert labels["undelivered"] == "не доставленные (по отчёту провайдера)"
    assert labels["complained"] == "отмеченные как спам"


def test_every_state_is_paged(admin_client, app, clock):
    from idp.delivery import enqueue
    from idp.extensions import db

    with app.app_context():
        ids = [enqueue(app.extensions["idp"], "account_created", channel="email",
                       recipient=f"c{n}@example.com", account_id=None, params={}).id for n in range(53)]
        db.session.commit()
    first = html(admin_client.get("/admin/deliveries?status=all"))
    assert len(cards(first)) == 50 and 'data-total="53"' in first
    assert 'href="/admin/deliveries?page=2&amp;status=all"' in first
    second = html(admin_client.get("/admin/deliveries?status=all&page=2"))
    assert list(cards(second)) == ids[2::-1]
    assert "admin.deliveries.empty" in codes(html(admin_client.get("/admin/deliveries?status=delivered")))


# -- the admin API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", FILTERS)
def test_api_lists_the_messages_of_each_state(api, app, clock, which):
    ids = every_state(app, clock)
    response = api.get("/api/admin/deliveries", params={"status": which})  # checked against the document
    body = response.json()
    assert [d["id"] for d in body["deliveries"]] == sorted((ids[s] for s in SHOWS[which]), reverse=True)
    assert body["total"] == len(SHOWS[which])
    for row in body["deliveries"]:
        state = next(s for s, i in ids.items() if i == row["id"])
        assert row["state"] == state
        assert row["recipient"] == (MASKED_PHONE if STATES[state] == "sms" else MASKED_EMAIL)
    assert_nothing_secret(app, ids, response.text)


def test_api_shows_every_state_field(api, app, clock):
    ids = every_state(app, clock)
    body = api.get("/api/admin/deliveries", params={"status": "all"}).json()
    rows = {d["id"]: d for d in body["deliveries"]}
    bounced = rows[ids["bounced"]]
    assert (bounced["status"], bounced["sent_at"], bounced["outcome_at"], bounced["outcome_detail"]) == (
        "bounced", "2026-11-25T09:01:00Z", "2026-11-25T09:03:00Z", "bounce:Permanent/General")
    assert bounced["provider_message_id"] and bounced["requeueable"] is False
    assert rows[ids["sent"]]["provider_message_id"] and rows[ids["sent"]]["outcome_at"] is None
    assert (rows[ids["failed"]]["status"], rows[ids["failed"]]["channel"]) == ("failed", "sms")
    assert (rows[ids["retrying"]]["status"], rows[ids["retrying"]]["state"]) == ("queued", "retrying")
    assert rows[ids["dead"]]["requeueable"] is True


def test_api_default_is_still_the_failed_messages(api, app, clock):
    ids = every_state(app, clock)
    body = api.get("/api/admin/deliveries").json()
    assert [(d["id"], d["state"]) for d in body["deliveries"]] == [(ids["dead"], "dead"),
                                                                   (ids["retrying"], "retrying")]


def test_api_document_names_every_filter_and_state(openapi):
    parameter = openapi["paths"]["/api/admin/deliveries"]["get"]["parameters"][0]
    assert parameter["name"] == "status" and parameter["schema"]["enum"] == list(FILTERS)
    assert parameter["schema"]["default"] == "failed"
    schema = openapi["components"]["schemas"]["Delivery"]
    from idp.delivery.models import STATUSES

    assert set(schema["properties"]["status"]["enum"]) == set(STATUSES)
    assert set(STATUSES) - {"failed"} <= set(FILTERS) and "undelivered" in FILTERS  # a filter for each
    assert set(schema["properties"]["state"]["enum"]) == set(STATUSES) | {"retrying"}
    assert {"outcome_at", "outcome_detail", "state"} <= set(schema["required"])
