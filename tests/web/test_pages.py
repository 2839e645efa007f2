"""The hosted pages: labels, languages, neutral answers, CSRF, and no 500 from anything typed."""
import re

import pytest

from tests.http import codes


def csrf(client, path="/login"):
    page = client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def post_login(client, **form):
    return client.post("/login", data={"csrf_token": csrf(client), **form})


def label_for(html: str, text: str) -> str:
    """The id of the input whose <label for> carries ``text`` (and check that input exists)."""
    match = re.search(r'<label for="([^"]+)">' + re.escape(text) + "</label>", html)
    assert match, f"no <label for> with {text!r}"
    assert f'id="{match.group(1)}"' in html
    return match.group(1)


def test_sign_in_page_has_the_seed_words_as_real_labels(client):
    html = client.get("/login").get_data(as_text=True)
    assert "<h1>Вход в личный кабинет</h1>" in html and '<html lang="ru">' in html
    assert label_for(html, "Логин") == "login" and label_for(html, "Пароль") == "password"
    assert re.search(r"<button[^>]*>Забыли пароль\?</button>", html)
    assert re.search(r"<button[^>]*>Войти</button>", html)
    assert 'name="viewport"' in html
    assert "8 (800) 510 3 510" in html and "8 (499) 215 6424" in html and "8-800-775 64 24" in html


@pytest.mark.parametrize("how", [{"query": "?lang=en"}, {"query": "?ui_locales=en-US%20ru"},
                                 {"headers": {"Accept-Language": "en-GB,en;q=0.9"}}])
def test_english_pages(client, how):
    html = client.get("/login" + how.get("query", ""), headers=how.get("headers", {})).get_data(as_text=True)
    assert '<html lang="en">' in html and "<h1>Sign in to your account</h1>" in html
    assert label_for(html, "Login") == "login"


def test_russian_is_the_default_and_language_is_remembered(client):
    assert '<html lang="ru">' in client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    client.get("/login?lang=en")
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_forgot_without_login_asks_for_one(client, mailbox):
    page = post_login(client, login="  ", password="", action="forgot")
    assert codes(page.get_data(as_text=True)) == ["login.required_for_reset"] and mailbox.messages() == []


@pytest.mark.parametrize("typed, info", [("someone@example.com", "reset.sent_email"),
                                         ("+7 916 000-00-00", "reset.sent_phone")])
def test_reset_answer_is_identical_for_known_and_unknown_logins(client, make_account, typed, info):
    unknown = post_login(client, login=typed, password="", action="forgot")
    make_account(email="someone@example.com", phone="+79160000000")
    known = post_login(client, login=typed, password="", action="forgot")
    assert unknown.status_code == known.status_code == 200
    strip = lambda page: re.sub(r'name="csrf_token" value="[^"]+"', "", page.get_data(as_text=True))  # noqa: E731
    assert strip(unknown) == strip(known)
    assert info in codes(known.get_data(as_text=True))
    assert set(unknown.headers.keys()) == set(known.headers.keys())


def test_wrong_password_and_unknown_login_say_the_same(client, make_account):
    make_account(email="known@example.com", password="Polis2026")
    known = post_login(client, login="known@example.com", password="Wrong2026", action="signin")
    unknown = post_login(client, login="unknown@example.com", password="Wrong2026", action="signin")
    for page in (known, unknown):
        assert codes(page.get_data(as_text=True)) == ["signin.invalid"]
        assert "Неверный логин или пароль" in page.get_data(as_text=True)
    assert known.status_code == unknown.status_code


def test_form_without_csrf_token_is_refused(client, make_account, mailbox):
    make_account(email="known@example.com")
    page = client.post("/login", data={"login": "known@example.com", "action": "forgot"})
    assert page.status_code == 400 and "csrf" in codes(page.get_data(as_text=True))
    assert mailbox.messages() == []


def test_change_page_is_only_for_a_temporary_sign_in(client):
    assert client.get("/password/change").headers["Location"].endswith("/login")
    assert client.get("/account").headers["Location"].startswith("/login")


@pytest.mark.parametrize("target, expected", [
    ("/account", "/account"), ("//evil.example/x", "/account"), ("https://evil.example/", "/account"),
    ("/\\evil.example", "/account"), ("/ok\r\nSet-Cookie: x=1", "/account"),
])
def test_next_is_followed_only_to_local_paths(client, make_account, target, expected):
    make_account(email="known@example.com", password="Polis2026")
    client.get("/login", query_string={"next": target})
    page = post_login(client, login="known@example.com", password="Polis2026", action="signin")
    assert page.status_code == 302 and page.headers["Location"] == expected


def test_sign_in_rotates_the_session(client, make_account):
    make_account(email="known@example.com", password="Polis2026")
    client.get("/login")
    before = client.get_cookie("idp_session").value
    post_login(client, login="known@example.com", password="Polis2026", action="signin")
    after = client.get_cookie("idp_session").value
    assert before != after
    cookie_header = [h for h in client.get("/account").headers.getlist("Set-Cookie")] or [""]
    assert client.get("/account").status_code == 200
    assert all("idp_session" not in h or "HttpOnly" in h for h in cookie_header)


def test_session_cookie_flags(client, make_account):
    make_account(email="known@example.com", password="Polis2026")
    client.get("/login")
    response = post_login(client, login="known@example.com", password="Polis2026", action="signin")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("idp_session="))
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_security_headers_on_pages(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.get_data(as_text=True)


BAD_VALUES = ["", "x" * 5000, "\x00", "Polis2026\x00", "' OR 1=1 --", "<script>alert(1)</script>", "%00%0d%0a",
              "😀" * 100, "+7" + "9" * 40, "a@" + "b" * 300 + ".ru", "\ud800".encode("utf-8", "surrogatepass")]


@pytest.mark.parametrize("value", BAD_VALUES)
@pytest.mark.parametrize("action", ["signin", "forgot"])
def test_anything_typed_on_the_sign_in_page_gets_a_page_not_a_500(client, value, action):
    page = post_login(client, login=value, password=value, action=action)
    assert page.status_code in (200, 400)
    assert "<h1>" in page.get_data(as_text=True)


@pytest.mark.parametrize("value", BAD_VALUES)
def test_anything_typed_on_the_change_page_gets_a_page_not_a_500(client, make_account, mailbox, value):
    make_account(email="known@example.com")
    post_login(client, login="known@example.com", password="", action="forgot")
    temporary = mailbox.temporary_password("known@example.com")
    post_login(client, login="known@example.com", password=temporary, action="signin")
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": value, "new": value, "confirm": value})
    assert page.status_code == 200 and "Изменение пароля" in page.get_data(as_text=True)
    assert codes(page.get_data(as_text=True))


def test_huge_post_is_refused_cleanly(client):
    page = client.post("/login", data={"login": "x" * 200_000})
    assert page.status_code == 413


def test_unknown_page_is_a_polite_404(client):
    page = client.get("/nope")
    assert page.status_code == 404 and "not_found" in codes(page.get_data(as_text=True))


def test_a_long_cyrillic_password_through_the_forms(client, make_account, mailbox):
    """64 characters, mostly Cyrillic (127 bytes in UTF-8, far past bcrypt's 72): set on «Изменение пароля»,
    then the sign-in takes exactly that password and refuses it with the last character changed."""
    make_account(email="known@example.com")
    post_login(client, login="known@example.com", password="", action="forgot")
    temporary = mailbox.temporary_password("known@example.com")
    post_login(client, login="known@example.com", password=temporary, action="signin")
    chosen = "Ab1" + "ж" * 60 + "я"
    assert len(chosen) == 64
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": temporary, "new": chosen, "confirm": chosen})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    almost = post_login(client, login="known@example.com", password=chosen[:-1] + "ю", action="signin")
    assert codes(almost.get_data(as_text=True)) == ["signin.invalid"]
    page = post_login(client, login="known@example.com", password=chosen, action="signin")
    assert page.status_code == 302 and page.headers["Location"] == "/account"


CONTROL_MESSAGE = {
    "ru": "Пароль не должен содержать управляющих и невидимых символов (табуляции, перевода строки, нулевого "
          "символа и т. п.).",
    "en": "The password must not contain control or invisible characters (tab, line break, NUL and the like).",
}


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("new", ["Aa1\x00aaaa", "Aa1\taaaaaa", "Aa1aaaaa\r\n", "Aa1\u200baaaa"])
def test_change_page_refuses_control_characters_with_a_message_of_their_own(client, make_account, mailbox,
                                                                            lang, new):
    """Issue 22, finding 7: a NUL, a tab, a line break or an invisible character in the new password is
    refused on «Изменение пароля» with its own message in the page's language, and nothing else is said;
    the temporary password still works, and a visible password is then taken."""
    make_account(email="known@example.com")
    client.get(f"/login?lang={lang}")
    post_login(client, login="known@example.com", password="", action="forgot")
    temporary = mailbox.temporary_password("known@example.com")
    post_login(client, login="known@example.com", password=temporary, action="signin")
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": temporary, "new": new, "confirm": new})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'<html lang="{lang}">' in html
    assert codes(html) == ["password.rule.control"]
    assert CONTROL_MESSAGE[lang] in html
    page = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                 "temporary": temporary, "new": "Aa1 aaaa", "confirm": "Aa1 aaaa"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    page = post_login(client, login="known@example.com", password="Aa1 aaaa", action="signin")
    assert page.status_code == 302 and page.headers["Location"] == "/account"
