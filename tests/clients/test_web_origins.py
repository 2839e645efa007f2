"""A client's web origins (idp.clients.web_origins): the rules, what a registration allows, and
``idp clients create|update --web-origin / --no-web-origins / --derive-web-origins``."""
from __future__ import annotations

import json

import pytest

from idp.cli import cli
from idp.clients.web_origins import InvalidWebOrigin, effective_origins, origin_of, validate_web_origins


@pytest.mark.parametrize("given, stored", [
    ("https://spa.example", "https://spa.example"),
    ("  HTTPS://Spa.Example:443/ ", "https://spa.example"),
    ("https://spa.example:8443", "https://spa.example:8443"),
    ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ("http://localhost:80", "http://localhost"),
    ("http://[::1]:3000", "http://[::1]:3000"),
])
def test_an_origin_is_stored_as_a_browser_sends_it(given, stored):
    assert validate_web_origins([given]) == [stored]


@pytest.mark.parametrize("given, rule", [
    ("", "malformed"), ("null", "scheme"), ("*", "wildcard"), ("https://*.spa.example", "wildcard"),
    ("spa.example", "scheme"), ("https:spa.example", "scheme"), ("ftp://spa.example", "scheme"),
    ("http://spa.example", "scheme"), ("https://spa.example/app", "path"), ("https://spa.example?x=1", "path"),
    ("https://spa.example#top", "path"), ("https://user:pw@spa.example", "userinfo"),
    ("https://spa.example:99999", "malformed"), ("https://spa_example.test", "host"), ("https://", "host"),
    ("https://[2001:db8::1]", "host"), ("https://" + "a" * 300 + ".example", "too_long"),
])
def test_what_is_no_origin(given, rule):
    with pytest.raises(InvalidWebOrigin) as refused:
        validate_web_origins([given])
    assert refused.value.code == f"client.web_origin.{rule}"


def test_duplicates_dropped_and_at_most_twenty():
    assert validate_web_origins(["https://a.example", "https://A.example/"]) == ["https://a.example"]
    with pytest.raises(InvalidWebOrigin) as refused:
        validate_web_origins([f"https://a{n}.example" for n in range(21)])
    assert refused.value.code == "client.web_origin.too_many"


def test_derived_origins():
    uris = ["https://spa.example/cb?x=1", "https://spa.example:443/other", "http://127.0.0.1:8080/cb",
            "com.example.app:/callback"]
    assert origin_of("com.example.app:/callback") is None
    assert effective_origins(True, uris, None) == {"https://spa.example", "http://127.0.0.1:8080"}
    assert effective_origins(False, uris, None) == frozenset()  # a confidential client: none derived
    assert effective_origins(True, uris, []) == frozenset()  # none at all, by choice
    assert effective_origins(False, uris, ["https://x.example"]) == {"https://x.example"}


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def _run(*args):
        result = runner.invoke(cli, ["clients", *args])
        return result.exit_code, result.output

    return _run


def test_cli_create_and_update(run):
    code, out = run("create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example/cb",
                    "--client-id", "spa", "--json")
    assert code == 0, out
    created = json.loads(out)
    assert created["web_origins"] is None and created["allowed_web_origins"] == ["https://spa.example"]

    code, out = run("update", "spa", "--web-origin", "https://app.example", "--web-origin",
                    "HTTPS://APP.example:443", "--web-origin", "http://localhost:5173", "--json")
    assert code == 0, out
    updated = json.loads(out)
    assert updated["web_origins"] == ["https://app.example", "http://localhost:5173"]
    assert updated["allowed_web_origins"] == ["http://localhost:5173", "https://app.example"]

    code, out = run("update", "spa", "--name", "SPA 2", "--json")  # other options leave them alone
    assert code == 0 and json.loads(out)["web_origins"] == ["https://app.example", "http://localhost:5173"]
    code, out = run("update", "spa", "--no-web-origins", "--json")
    assert code == 0 and json.loads(out)["web_origins"] == [] and json.loads(out)["allowed_web_origins"] == []
    code, out = run("update", "spa", "--derive-web-origins", "--json")
    assert code == 0 and json.loads(out)["web_origins"] is None
    assert json.loads(out)["allowed_web_origins"] == ["https://spa.example"]

    code, out = run("show", "spa")
    assert code == 0 and "allowed_web_origins: https://spa.example" in out

    code, out = run("create", "--name", "Backend", "--redirect-uri", "https://backend.example/cb",
                    "--client-id", "backend", "--json")
    assert code == 0 and json.loads(out)["allowed_web_origins"] == []  # confidential: none derived
    code, out = run("create", "--name", "Native", "--public", "--redirect-uri", "https://n.example/cb",
                    "--no-web-origins", "--json")
    assert code == 0 and json.loads(out)["web_origins"] == [] and json.loads(out)["allowed_web_origins"] == []


def test_cli_refuses_bad_origins_clearly(run):
    code, out = run("create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example/cb",
                    "--web-origin", "https://spa.example/app")
    assert code != 0 and "https://spa.example/app" in out and "path" in out and "Traceback" not in out
    code, out = run("create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example/cb",
                    "--client-id", "spa")
    assert code == 0
    code, out = run("update", "spa", "--web-origin", "http://spa.example")
    assert code != 0 and "http is allowed only on" in out and "Traceback" not in out
    code, out = run("update", "spa", "--web-origin", "https://a.example", "--no-web-origins")
    assert code == 2 and "exclude each other" in out
    code, out = run("update", "spa", "--no-web-origins", "--derive-web-origins")
    assert code == 2 and "exclude each other" in out
    assert json.loads(run("show", "spa", "--json")[1])["web_origins"] is None  # nothing half-written
