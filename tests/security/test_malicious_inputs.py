"""Malicious inputs, one table row each, with the clear refusal each must get.

* header injection through redirect URIs, ``state`` and ``next`` (CR/LF raw and ``%0d%0a``);
* open redirects through ``redirect_uri``, ``post_logout_redirect_uri`` and ``next`` (``//evil``,
  ``/\\evil``, ``https://evil``, ``javascript:``, ``data:``, ``https://good@evil``, encoded slashes, tabs);
* SQL metacharacters in every field of the sign-in, «Забыли пароль?» and change forms;
* overlong e-mails, phones and passwords; NUL bytes;
* Unicode look-alikes: a Cyrillic «с» or «а» in a Latin address is another login, never the Latin account.

Besides: hostile redirect URIs refused at registration (admin API), hostile path parameters (NUL,
bad UTF-8, traversal) answered 404, reflected values escaped, reset links immune to Host-header
poisoning. Rows check, where it applies, that no account changed and no message went out.
"""
from __future__ import annotations

import base64
import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.http import codes
from tests.security.fuzzing import accounts_snapshot

LOGIN, PHONE, PASSWORD = "client@example.com", "+79161234567", "Polis2026"
REDIRECT = "https://rp.example/cb"
SIGNED_OUT = "https://rp.example/bye"
EVIL = "evil.example"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(app, make_account):
    """The customer, a first-party client, and a service client allowed the admin API."""
    from idp.clients import create_client
    from idp.extensions import db

    account = make_account(email=LOGIN, phone=PHONE, password=PASSWORD)
    services = app.extensions["idp"]
    with app.app_context():
        now = services.clock.now()
        portal = create_client(services.settings, name="Портал", redirect_uris=[REDIRECT],
                               post_logout_redirect_uris=[SIGNED_OUT], first_party=True, now=now)
        service = create_client(services.settings, name="Служебная система", redirect_uris=[],
                                scopes=["admin"], grant_types=["client_credentials"], now=now)
        db.session.commit()
        ids = {"account": account, "client_id": portal.client.client_id, "secret": portal.secret,
               "service": (service.client.client_id, service.secret)}
    return ids


def csrf(client, path="/login") -> str:
    return unescape(_CSRF.search(client.get(path).get_data(as_text=True)).group(1))


def post_login(client, **form):
    return client.post("/login", data={"csrf_token": csrf(client), **form})


def page_code(response) -> list[str]:
    return codes(response.get_data(as_text=True))


def no_header_injection(response) -> None:
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
    assert "x-injected" not in {name.lower() for name in response.headers.keys()}
    assert "injected" not in response.headers.get("Set-Cookie", "")


# -- authorization requests: redirect_uri, state and friends ------------------------------------------------

#: (id, parameters changed in a valid request, expected status, where the answer goes, expected code)
MISMATCH = "oauth.redirect_uri_mismatch"
AUTHORIZE = [
    ("redirect_uri CRLF", {"redirect_uri": REDIRECT + "\r\nX-Injected: 1"}, 400, "page", MISMATCH),
    ("redirect_uri %0d%0a", {"redirect_uri": REDIRECT + "%0d%0aX-Injected:%201"}, 400, "page", MISMATCH),
    ("redirect_uri LF only", {"redirect_uri": REDIRECT + "\nSet-Cookie: injected=1"}, 400, "page", MISMATCH),
    ("redirect_uri NUL", {"redirect_uri": REDIRECT + "\x00"}, 400, "page", MISMATCH),
    ("redirect_uri other host", {"redirect_uri": f"https://{EVIL}/cb"}, 400, "page", MISMATCH),
    ("redirect_uri //evil", {"redirect_uri": f"//{EVIL}/cb"}, 400, "page", MISMATCH),
    ("redirect_uri good@evil", {"redirect_uri": f"https://rp.example@{EVIL}/cb"}, 400, "page", MISMATCH),
    ("redirect_uri evil@good", {"redirect_uri": f"https://{EVIL}@rp.example/cb"}, 400, "page", MISMATCH),
    ("redirect_uri path suffix", {"redirect_uri": REDIRECT + "/../../evil"}, 400, "page", MISMATCH),
    ("redirect_uri encoded slash", {"redirect_uri": REDIRECT + "%2F..%2F..%2Fevil"}, 400, "page", MISMATCH),
    ("redirect_uri extra query", {"redirect_uri": REDIRECT + "?next=https://" + EVIL}, 400, "page", MISMATCH),
    ("redirect_uri upper case", {"redirect_uri": REDIRECT.upper()}, 400, "page", MISMATCH),
    ("redirect_uri javascript:", {"redirect_uri": "javascript:alert(1)"}, 400, "page", MISMATCH),
    ("redirect_uri data:", {"redirect_uri": "data:text/html,<script>alert(1)</script>"}, 400, "page",
     MISMATCH),
    ("redirect_uri twice", {"redirect_uri": [REDIRECT, f"https://{EVIL}/cb"]}, 400, "page",
     "oauth.invalid_request"),
    ("client_id SQL", {"client_id": "' OR '1'='1"}, 400, "page", "oauth.unknown_client"),
    ("client_id NUL", {"client_id": "\x00"}, 400, "page", "oauth.unknown_client"),
    ("client_id twice", {"client_id": ["x", "y"]}, 400, "page", "oauth.invalid_request"),
    ("nonce NUL", {"nonce": "n\x00"}, 302, "client", "invalid_request"),
    ("nonce overlong", {"nonce": "n" * 600}, 302, "client", "invalid_request"),
    ("response_type CRLF", {"response_type": "code\r\ntoken"}, 302, "client", "unsupported_response_type"),
    ("scope SQL", {"scope": "openid' OR '1'='1"}, 302, "client", "code"),
    ("state CRLF", {"state": "s\r\nX-Injected: 1"}, 302, "client", "code"),
    ("state %0d%0a", {"state": "s%0d%0aX-Injected:%201"}, 302, "client", "code"),
]


@pytest.mark.parametrize("changes, status, where, expected", [row[1:] for row in AUTHORIZE],
                         ids=[row[0] for row in AUTHORIZE])
def test_authorization_requests(app, world, changes, status, where, expected):
    client = app.test_client()
    assert post_login(client, login=LOGIN, password=PASSWORD, action="signin").status_code == 302
    params = {"response_type": "code", "client_id": world["client_id"], "redirect_uri": REDIRECT,
              "scope": "openid email", "state": "st", "nonce": "nn",
              "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    params.update(changes)
    before = accounts_snapshot(app)
    response = client.get("/oauth/authorize?" + urlencode(params, doseq=True))
    no_header_injection(response)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if where == "page":
        assert "Location" not in response.headers and page_code(response) == [expected]
    else:
        location = response.headers["Location"]
        assert location.startswith(REDIRECT + "?"), location
        query = parse_qs(urlsplit(location).query)
        assert (expected in query) if expected == "code" else query["error"] == [expected], query
        assert query["state"] == [params["state"]]  # returned exactly, percent-encoded in the Location
    assert accounts_snapshot(app) == before


# -- open redirects and injection after sign-out and sign-in -----------------------------------------------

#: Targets no redirect may lead to: another site, a script, a header break.
HOSTILE_TARGETS = [
    ("//evil", f"//{EVIL}/"),
    ("/\\evil", f"/\\{EVIL}/"),
    ("\\\\evil", f"\\\\{EVIL}/"),
    ("https://evil", f"https://{EVIL}/"),
    ("http://evil", f"http://{EVIL}/"),
    ("https:evil", f"https:{EVIL}"),
    ("javascript:", "javascript:alert(document.cookie)"),
    ("data:", "data:text/html;base64," + base64.b64encode(b"<script>alert(1)</script>").decode()),
    ("good@evil", f"https://rp.example@{EVIL}/bye"),
    ("good.evil", f"https://rp.example.{EVIL}/bye"),
    ("//evil with tab", f"/\t/{EVIL}/"),
    ("//evil with LF", f"/\n/{EVIL}/"),
    ("leading space", f" //{EVIL}/"),
    ("CRLF header", "/account\r\nSet-Cookie: injected=1"),
    ("NUL", "/account\x00//" + EVIL),
    ("overlong", "/" + "a" * 5000),
]


@pytest.mark.parametrize("target", [t[1] for t in HOSTILE_TARGETS] + [
    f"https://rp.example/bye/../../{EVIL}", SIGNED_OUT + "?x=1", SIGNED_OUT.upper(), SIGNED_OUT + "%0d%0a",
    f"https:%2F%2F{EVIL}", SIGNED_OUT + "/"], ids=[t[0] for t in HOSTILE_TARGETS] + [
    "dot-dot", "extra query", "upper case", "%0d%0a", "encoded slashes", "trailing slash"])
@pytest.mark.parametrize("named_by", ["client_id", "id_token_hint"])
def test_post_logout_redirect_uri_must_be_registered_exactly(app, world, target, named_by):
    client = app.test_client()
    params = {"post_logout_redirect_uri": target, "state": "st"}
    if named_by == "client_id":
        params["client_id"] = world["client_id"]
    else:
        params["id_token_hint"] = id_token(app, world)
    response = client.get("/oauth/logout?" + urlencode(params))
    no_header_injection(response)
    assert response.status_code == 400 and "Location" not in response.headers
    assert page_code(response) == ["oauth.post_logout_redirect_uri_mismatch"]


def test_the_registered_post_logout_redirect_uri_is_followed(app, world):
    """The control row: the exact registered URI is where the customer lands, with the state."""
    response = app.test_client().get("/oauth/logout?" + urlencode({
        "client_id": world["client_id"], "post_logout_redirect_uri": SIGNED_OUT,
        "state": "s\r\nX-Injected: 1"}))
    no_header_injection(response)
    assert response.status_code == 302 and response.headers["Location"].startswith(SIGNED_OUT)
    assert parse_qs(urlsplit(response.headers["Location"]).query)["state"] == ["s\r\nX-Injected: 1"]


def id_token(app, world) -> str:
    """A real ID token of the portal, through sign-in, authorize and the token endpoint."""
    from idp.oidc.pkce import s256

    client, verifier = app.test_client(), "v" * 43
    post_login(client, login=LOGIN, password=PASSWORD, action="signin")
    location = client.get("/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": world["client_id"], "redirect_uri": REDIRECT, "scope": "openid",
        "state": "st", "code_challenge": s256(verifier), "code_challenge_method": "S256"})).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                                 "redirect_uri": REDIRECT, "code_verifier": verifier},
                           headers={"Authorization": basic(world["client_id"], world["secret"])})
    return response.get_json()["id_token"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("target", [t[1] for t in HOSTILE_TARGETS] + [f"/%2F{EVIL}"],
                         ids=[t[0] for t in HOSTILE_TARGETS] + ["encoded slash"])
def test_next_never_leaves_the_site(app, world, target):
    """After sign-in, ``next`` either is a path on this site or is dropped (→ /account); the same for the
    language switch (→ /login)."""
    client = app.test_client()
    client.get("/login?" + urlencode({"next": target}))
    response = post_login(client, login=LOGIN, password=PASSWORD, action="signin")
    no_header_injection(response)
    assert response.status_code == 302
    stays = target == f"/%2F{EVIL}"  # a path on this site whose first segment is "%2Fevil.example"
    assert response.headers["Location"] == (target if stays else "/account")
    assert urlsplit(response.headers["Location"]).netloc == ""

    switched = app.test_client().get("/lang/en?" + urlencode({"next": target}))
    no_header_injection(switched)
    assert switched.status_code == 302 and switched.headers["Location"] == (target if stays else "/login")


# -- the sign-in and reset forms: SQL, overlong values, NUL, look-alikes -----------------------------------

CYRILLIC_C = "\u0441lient@example.com"  # «с», U+0441, in place of the Latin c
CYRILLIC_A_DOMAIN = "client@ex\u0430mple.com"  # «а», U+0430, in the domain
FULLWIDTH = "\uff43lient@example.com"  # fullwidth c

#: (id, login, password, expected sign-in status and codes, expected «Забыли пароль?» codes)
LOGIN_FIELDS = [
    ("SQL tautology login", "' OR '1'='1", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("SQL comment after e-mail", LOGIN + "'--", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("SQL union in e-mail", LOGIN + "' UNION SELECT password_hash FROM accounts--", PASSWORD,
     ["signin.invalid"], ["login.invalid"]),
    ("SQL drop in local part", "x'; DROP TABLE accounts; --@example.com", PASSWORD, ["signin.invalid"],
     ["login.invalid"]),
    ("SQL quote valid e-mail", "o'brien--@example.com", PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("SQL quoted local part", "\"' OR 1=1 --\"@example.com", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("SQL in phone", PHONE + "; DROP TABLE accounts", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("SQL wildcard login", "%@example.com", PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("SQL LIKE underscore", "_lient@example.com", PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("SQL tautology password", LOGIN, "' OR '1'='1", ["signin.invalid"], None),
    ("SQL password suffix", LOGIN, PASSWORD + "' OR '1'='1", ["signin.invalid"], None),
    # (email-validator checks RFC 5321's 64-octet local part only in strict mode; the 254 total is ours)
    ("overlong local part", "a" * 243 + "@example.com", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("overlong domain label", "a@" + "b" * 64 + ".com", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("overlong e-mail", "a" * 60 + "@" + ".".join(["c" * 60] * 4) + ".com", PASSWORD, ["signin.invalid"],
     ["login.invalid"]),
    ("e-mail of 10 000 characters", "a" * 9988 + "@example.com", PASSWORD, ["signin.invalid"],
     ["login.invalid"]),
    ("overlong phone", "+7" + "9" * 30, PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("phone of 300 digits", "8" * 300, PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("phone with trailing digits", PHONE + "0", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("password of 257 characters", LOGIN, "Aa1" + "x" * 254, ["signin.invalid"], None),
    ("password of 60 000 characters", LOGIN, "Aa1" + "x" * 60_000, ["signin.invalid"], None),
    ("NUL after e-mail", LOGIN + "\x00", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("NUL inside e-mail", "client\x00@example.com", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("NUL in phone", "+7916\x001234567", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("NUL after password", LOGIN, PASSWORD + "\x00", ["signin.invalid"], None),
    ("NUL password", LOGIN, "\x00", ["signin.invalid"], None),
    ("Cyrillic с in local part", CYRILLIC_C, PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("Cyrillic а in domain", CYRILLIC_A_DOMAIN, PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("fullwidth c", FULLWIDTH, PASSWORD, ["signin.invalid"], ["reset.sent_email"]),
    ("zero-width space", "client\u200b@example.com", PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("right-to-left override", "\u202e" + LOGIN, PASSWORD, ["signin.invalid"], ["login.invalid"]),
    ("Cyrillic lookalike password", LOGIN, "P\u043elis2026", ["signin.invalid"], None),  # «о», U+043E
]


@pytest.mark.parametrize("login, password, signin_codes, forgot_codes", [row[1:] for row in LOGIN_FIELDS],
                         ids=[row[0] for row in LOGIN_FIELDS])
def test_login_fields(app, world, mailbox, login, password, signin_codes, forgot_codes):
    client, before = app.test_client(), accounts_snapshot(app)
    response = post_login(client, login=login, password=password, action="signin")
    assert (response.status_code, page_code(response)) == (200, signin_codes)
    assert client.get("/account").status_code == 302  # not signed in
    if forgot_codes is not None:
        response = post_login(app.test_client(), login=login, password="", action="forgot")
        assert (response.status_code, page_code(response)) == (200, forgot_codes)
    assert mailbox.messages() == []  # nothing went to the Latin account, nor to anyone
    assert accounts_snapshot(app) == before


@pytest.mark.parametrize("login", ["CLIENT@EXAMPLE.COM", " client@example.com ", "8 (916) 123-45-67",
                                   "89161234567", "+7 916 123 45 67"])
def test_the_usual_writings_of_the_login_do_sign_in(app, world, login):
    """The control rows: case, spaces and the usual phone writings are the same login (DESIGN.md)."""
    response = post_login(app.test_client(), login=login, password=PASSWORD, action="signin")
    assert response.status_code == 302 and response.headers["Location"] == "/account"


def test_a_look_alike_address_is_a_separate_account(app, world, make_account, mailbox):
    """An account registered with a Cyrillic «с» is its own: the Latin account's password does not open it,
    and «Забыли пароль?» for it writes to it, never to the Latin address."""
    make_account(email=CYRILLIC_C, password="Other2026")
    response = post_login(app.test_client(), login=CYRILLIC_C, password=PASSWORD, action="signin")
    assert page_code(response) == ["signin.invalid"]
    post_login(app.test_client(), login=CYRILLIC_C, password="", action="forgot")
    assert [m["to"] for m in mailbox.messages()] == [CYRILLIC_C]
    response = post_login(app.test_client(), login=LOGIN, password="Other2026", action="signin")
    assert page_code(response) == ["signin.invalid"]


#: (id, temporary, new, confirm, expected codes) on «Изменение пароля» with a live temporary password.
CHANGE_FIELDS = [
    ("SQL temporary", "' OR '1'='1", "Polis2027", "Polis2027", ["password.temporary_invalid"]),
    ("SQL new", None, "Polis2027' OR '1'='1", "Polis2027", ["password.confirm_mismatch"]),
    ("NUL temporary", "\x00", "Polis2027", "Polis2027", ["password.temporary_invalid"]),
    ("NUL after temporary", "TEMP\x00", "Polis2027", "Polis2027", ["password.temporary_invalid"]),
    ("overlong temporary", "A" * 10_000, "Polis2027", "Polis2027", ["password.temporary_invalid"]),
    ("overlong new", None, "Aa1" + "x" * 300, "Aa1" + "x" * 300, ["password.rule.max_length"]),
    ("temporary with Cyrillic look-alikes", "CYRILLIC", "Polis2027", "Polis2027",
     ["password.temporary_invalid"]),
]


@pytest.mark.parametrize("temporary, new, confirm, expected", [row[1:] for row in CHANGE_FIELDS],
                         ids=[row[0] for row in CHANGE_FIELDS])
def test_change_fields(app, world, mailbox, monkeypatch, temporary, new, confirm, expected):
    # A temporary password whose letters all have Cyrillic look-alikes (a real one is random).
    monkeypatch.setattr("idp.passwords.temporary.generate", lambda: "PaceXy23")
    client = app.test_client()
    post_login(client, login=LOGIN, password="", action="forgot")
    real = mailbox.temporary_password(LOGIN)
    assert real == "PaceXy23"
    response = post_login(client, login=LOGIN, password=real, action="signin")
    assert response.headers["Location"].endswith("/password/change")
    lookalike = real.translate(str.maketrans("PaceXy", "Расеху"))  # Cyrillic Р, а, с, е, Х, у
    assert lookalike != real and lookalike.upper() != real.upper()
    temporary = {None: real, "TEMP\x00": real + "\x00", "CYRILLIC": lookalike}.get(temporary, temporary)
    before = accounts_snapshot(app)
    response = client.post("/password/change", data={"csrf_token": csrf(client, "/password/change"),
                                                      "temporary": temporary, "new": new, "confirm": confirm})
    assert (response.status_code, page_code(response)) == (200, expected)
    assert accounts_snapshot(app) == before


# -- registering hostile redirect URIs through the admin API ------------------------------------------------

REGISTRATION = [
    ("CRLF", REDIRECT + "\r\nX-Injected: 1", "client.redirect_uri.malformed"),
    ("%0d%0a (percent-encoded text)", REDIRECT + "%0d%0a", None),
    ("javascript:", "javascript:alert(1)", "client.redirect_uri.scheme"),
    ("data:", "data:text/html,x", "client.redirect_uri.scheme"),
    ("//evil", f"//{EVIL}/cb", "client.redirect_uri.scheme"),
    ("http on a public host", f"http://{EVIL}/cb", "client.redirect_uri.scheme"),
    ("good@evil", f"https://rp.example@{EVIL}/cb", "client.redirect_uri.userinfo"),
    ("backslash", f"https://rp.example\\@{EVIL}/cb", "client.redirect_uri.malformed"),
    ("wildcard", "https://*.example/cb", "client.redirect_uri.wildcard"),
    ("fragment", REDIRECT + "#x", "client.redirect_uri.fragment"),
    ("NUL", REDIRECT + "\x00", "client.redirect_uri.malformed"),
    ("overlong", "https://rp.example/" + "a" * 2000, "client.redirect_uri.too_long"),
]


@pytest.mark.parametrize("uri, error_code", [row[1:] for row in REGISTRATION],
                         ids=[row[0] for row in REGISTRATION])
@pytest.mark.parametrize("field", ["redirect_uris", "post_logout_redirect_uris"])
def test_hostile_redirect_uris_cannot_be_registered(app, world, uri, error_code, field):
    client = app.test_client()
    client_id, secret = world["service"]
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "admin"},
                        headers={"Authorization": basic(client_id, secret)}).get_json()["access_token"]
    body = {"name": "Злой клиент", "redirect_uris": [REDIRECT], field: [uri]}
    response = client.post("/api/admin/clients", json=body, headers={"Authorization": f"Bearer {token}"})
    if error_code is None:  # "%0d%0a" is percent-encoded text, harmless in a URI: accepted as written
        assert response.status_code == 201 and response.get_json()[field] == [uri]
        return
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_redirect_uri"
    assert response.get_json()["error_code"] == error_code



# -- reflected values and the Host header ------------------------------------------------------------------

MARKUP = "\"'><script>alert(1)</script><img src=x onerror=alert(1)>"


@pytest.mark.parametrize("how", ["login_hint", "failed sign-in", "failed reset", "logout confirmation"])
def test_reflected_values_are_escaped(app, world, how):
    client = app.test_client()
    if how == "login_hint":
        response = client.get("/login?" + urlencode({"login_hint": MARKUP}))
    elif how == "failed sign-in":
        response = post_login(client, login=MARKUP, password="x", action="signin")
    elif how == "failed reset":
        response = post_login(client, login=MARKUP + "@example.com", password="", action="forgot")
    else:
        post_login(client, login=LOGIN, password=PASSWORD, action="signin")
        response = client.get("/oauth/logout?" + urlencode({"client_id": world["client_id"], "state": MARKUP,
                                                            "post_logout_redirect_uri": SIGNED_OUT}))
        assert page_code(response) == ["logout.confirm"]
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html or "&#34;" in html or "&#39;" in html


@pytest.mark.parametrize("headers", [{"Host": EVIL}, {"X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https"},
                                     {"Forwarded": f"host={EVIL};proto=https"}],
                         ids=["Host", "X-Forwarded-Host", "Forwarded"])
def test_reset_messages_link_to_the_issuer_whatever_the_host_header(app, world, mailbox, headers):
    """Host-header poisoning: the link in a temporary-password message comes from IDP_ISSUER only."""
    client = app.test_client()
    page = client.get("/login", headers=headers).get_data(as_text=True)
    token = unescape(_CSRF.search(page).group(1))
    response = client.post("/login", data={"csrf_token": token, "login": LOGIN, "action": "forgot"},
                           headers=headers)
    assert response.status_code == 200 and page_code(response) == ["reset.sent_email"]
    [message] = mailbox.messages(LOGIN)
    assert EVIL not in message["text"] and EVIL not in (message.get("html") or "")
    assert app.extensions["idp"].settings.issuer + "/login" in message["text"]


# -- hostile path parameters ---------------------------------------------------------------------------------

PATH_VALUES = [("NUL", "a%00b"), ("only NUL", "%00"), ("surrogate bytes", "%ED%A0%80"),
               ("bad UTF-8", "%FF%FE"), ("overlong", "a" * 5000), ("traversal", "..%2F..%2Fsecrets"),
               ("CRLF", "%0d%0aX-Injected:%201"), ("SQL", "x'%20OR%20'1'%3D'1")]
PATH_ROUTES = [("GET", "/api/v1/policies/{}"), ("GET", "/api/admin/clients/{}"),
               ("PATCH", "/api/admin/clients/{}"), ("POST", "/api/admin/clients/{}/disable"),
               ("POST", "/api/admin/clients/{}/enable"),
               ("POST", "/api/admin/clients/{}/rotate-secret"), ("GET", "/lang/{}"), ("GET", "/static/{}")]


@pytest.mark.parametrize("method, route", PATH_ROUTES, ids=[f"{m} {r}" for m, r in PATH_ROUTES])
def test_hostile_path_parameters_are_not_found(app, world, method, route):
    """Nothing stored can have these names: 404 (JSON ``not_found`` on the APIs), on SQLite and PostgreSQL
    alike (PostgreSQL refuses NUL in a query: it must never reach one). One app per route, every value."""
    client = app.test_client()
    client_id, secret = world["service"]
    scope = "policies:write" if "/policies/" in route else "admin"
    if scope != "admin":  # the policy intake's scope, for a client allowed it
        from idp.clients import update_client
        from idp.extensions import db

        with app.app_context():
            update_client(client_id, scopes=["admin", scope], now=app.extensions["idp"].clock.now())
            db.session.commit()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": scope},
                        headers={"Authorization": basic(client_id, secret)}).get_json()["access_token"]
    before = accounts_snapshot(app)
    for name, value in PATH_VALUES:
        response = client.open(route.format(value), method=method,
                               json={"name": "x"} if method == "PATCH" else None,
                               headers={"Authorization": f"Bearer {token}"})
        no_header_injection(response)
        assert response.status_code == 404, (name, response.status_code, response.get_data(as_text=True))
        if route.startswith("/api/"):
            assert response.get_json()["error"] == "not_found", name
    assert accounts_snapshot(app) == before
