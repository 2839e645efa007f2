"""Property: nothing sent to the hosted forms causes a 500 or changes an account.

Arbitrary text (NUL, lone surrogates as raw bytes, control characters, bidi marks, 70 kB values),
broken encodings and wrong Content-Types, missing and repeated fields, with and without a valid CSRF
token, against «Вход в личный кабинет» (sign in and «Забыли пароль?») and «Изменение пароля».
"""
from __future__ import annotations

import re
from html import unescape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idp.app import MAX_CONTENT_LENGTH
from tests.security.fuzzing import (FUZZ, LOGIN, PASSWORD, PHONE, accounts_snapshot, bodies, check_answer,
                                    form_body, fuzz_app, mutated, nasty_text, query_string, weighted)

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_WAYS = st.sampled_from(["form"] * 4 + ["header"] * 2 + ["none", "garbage"])


@pytest.fixture
def app(make_app, make_account):
    return fuzz_app(make_app)


@pytest.fixture
def accounts(app, make_account):
    make_account(email=LOGIN, phone=PHONE, password=PASSWORD)
    return make_account(email="change@example.com")


def csrf_token(client, path: str = "/login") -> str:
    return unescape(_CSRF.search(client.get(path).get_data(as_text=True)).group(1))


def post(client, path: str, body: bytes, content_type: str, csrf: str, token: str):
    headers = {}
    if csrf == "form" and content_type.startswith("application/x-www-form-urlencoded"):
        body = body + b"&" + form_body([("csrf_token", token)])
    elif csrf in ("header", "form"):
        headers["X-CSRFToken"] = token
    elif csrf == "garbage":
        headers["X-CSRFToken"] = "garbage." + token[:10]
    return client.post(path, data=body, content_type=content_type or None, headers=headers)


sign_in_forms = weighted(
    (1, bodies(["login", "password", "action", "next", "csrf_token"])),
    (1, st.tuples(mutated({"login": LOGIN, "password": "Wrong2026", "action": "signin"}).map(form_body),
                  st.just("application/x-www-form-urlencoded"))),
    (1, st.tuples(mutated({"login": PHONE, "password": "", "action": "forgot"}).map(form_body),
                  st.just("application/x-www-form-urlencoded"))),
)


@FUZZ
@given(request=sign_in_forms, csrf=CSRF_WAYS, query=st.lists(st.tuples(st.sampled_from(["next", "login_hint",
       "prompt", "lang"]), nasty_text), max_size=2))
def test_sign_in_and_forgot_answer_every_form_without_a_500(app, accounts, request, csrf, query):
    (body, content_type), before = request, accounts_snapshot(app)
    client = app.test_client()
    token = csrf_token(client)
    response = post(client, "/login?" + query_string(query).decode(), body, content_type, csrf, token)
    check_answer(response)
    assert accounts_snapshot(app) == before


@FUZZ
@given(query=st.lists(st.tuples(st.sampled_from(["next", "login_hint", "prompt", "lang", "ui_locales"]),
                                nasty_text), max_size=4),
       path=st.sampled_from(["/login", "/lang/en", "/lang/ru", "/password/change", "/account", "/"]))
def test_pages_answer_every_query_without_a_500(app, accounts, query, path):
    before = accounts_snapshot(app)
    response = app.test_client().get(path + "?" + query_string(query).decode("ascii"))
    check_answer(response)
    assert accounts_snapshot(app) == before


change_forms = weighted(
    (1, bodies(["temporary", "new", "confirm", "csrf_token"])),
    (2, st.tuples(mutated({"temporary": "Abcd2345", "new": "Polis2027", "confirm": "Polis2027"})
                  .map(form_body), st.just("application/x-www-form-urlencoded"))),
)


@FUZZ
@given(request=change_forms, csrf=CSRF_WAYS, who=st.sampled_from(["pending"] * 4 + ["nobody", "garbage"]))
def test_password_change_answers_every_form_without_a_500_or_a_change(app, accounts, mailbox, request, csrf,
                                                                      who):
    from idp.passwords.reset import request_temporary_password

    with app.app_context():
        if not mailbox.messages("change@example.com"):  # once: a live temporary password to guess at
            request_temporary_password("change@example.com", app.extensions["idp"])
    (body, content_type), before = request, accounts_snapshot(app)
    client = app.test_client()
    with client.session_transaction() as session:
        session["pw_change"] = {"pending": accounts.id, "nobody": 10**9, "garbage": "1; DROP TABLE"}[who]
    token = csrf_token(client, "/password/change") if who == "pending" else csrf_token(client)
    response = post(client, "/password/change", body, content_type, csrf, token)
    check_answer(response)
    assert accounts_snapshot(app) == before


@FUZZ
@given(value=nasty_text, field=st.sampled_from(["login", "password"]),
       action=st.sampled_from(["signin", "forgot"]))
def test_any_single_value_reaches_the_domain_and_is_answered(app, accounts, value, field, action):
    """The same with a valid token and a well-formed body, so every value reaches the sign-in code."""
    before = accounts_snapshot(app)
    client = app.test_client()
    form = {"login": LOGIN, "password": "Wrong2026", "action": action, field: value}
    body = form_body([*form.items(), ("csrf_token", csrf_token(client))])
    response = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    check_answer(response)
    if len(body) <= MAX_CONTENT_LENGTH:  # a longer body is refused (413) before the form is read
        assert response.status_code in (200, 302, 429), response.status_code
    assert accounts_snapshot(app) == before
