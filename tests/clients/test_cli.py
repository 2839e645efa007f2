"""``idp clients …`` with ``--json``."""
from __future__ import annotations

import json

import pytest

from idp.cli import cli


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def _run(*args):
        result = runner.invoke(cli, ["clients", *args])
        return result.exit_code, result.output

    return _run


def test_create_show_list_update_rotate_disable(run):
    code, out = run("create", "--name", "ДМС", "--redirect-uri", "https://dms.example/cb",
                    "--post-logout-redirect-uri", "https://dms.example/", "--first-party",
                    "--client-id", "dms", "--json")
    assert code == 0, out
    created = json.loads(out)
    assert created["client_id"] == "dms" and created["first_party"] is True and created["client_secret"]

    shown = json.loads(run("show", "dms", "--json")[1])
    assert "client_secret" not in shown and shown["redirect_uris"] == ["https://dms.example/cb"]
    assert [c["client_id"] for c in json.loads(run("list", "--json")[1])] == ["dms"]

    updated = json.loads(run("update", "dms", "--third-party", "--scope", "openid email", "--json")[1])
    assert updated["first_party"] is False and updated["scopes"] == ["openid", "email"]

    rotated = json.loads(run("rotate-secret", "dms", "--json")[1])
    assert rotated["client_secret"] and rotated["client_secret"] != created["client_secret"]

    disabled = json.loads(run("disable", "dms", "--json")[1])
    assert disabled["active"] is False
    assert json.loads(run("list", "--active-only", "--json")[1]) == []


def test_every_change_is_in_the_audit_trail(run, app):
    created = json.loads(run("create", "--name", "ДМС", "--redirect-uri", "https://dms.example/cb",
                             "--client-id", "dms", "--json")[1])
    run("update", "dms", "--name", "ДМС портал", "--json")
    rotated = json.loads(run("rotate-secret", "dms", "--json")[1])
    run("disable", "dms", "--json")
    run("enable", "dms", "--json")
    run("update", "nope", "--name", "X", "--json")  # refused: nothing recorded
    from idp.audit import search
    with app.app_context():
        events = [(e.event, e.client_id, e.details) for e in reversed(search(event="client.*"))]
    assert [(event, client) for event, client, _ in events] == [
        ("client.created", "dms")] + [("client.changed", "dms")] * 4
    assert [d.get("change") for _, _, d in events[1:]] == ["update", "rotate_secret", "disable", "enable"]
    assert events[1][2]["fields"] == ["name"] and all(d["via"] == "cli" for _, _, d in events)
    trail = json.dumps([d for _, _, d in events])
    assert created["client_secret"] not in trail and rotated["client_secret"] not in trail


def test_public_client(run):
    code, out = run("create", "--name", "SPA", "--redirect-uri", "http://127.0.0.1:3000/cb", "--public",
                    "--json")
    assert code == 0 and "client_secret" not in json.loads(out)


def test_bad_redirect_uri_is_reported_with_its_rule(run):
    code, out = run("create", "--name", "X", "--redirect-uri", "http://evil.example/cb", "--json")
    assert code == 1 and json.loads(out)["error"] == "client.redirect_uri.scheme"


def test_unknown_client(run):
    code, out = run("show", "nope", "--json")
    assert code == 1 and json.loads(out)["error"] == "client.not_found"


def test_a_made_up_secret_key_is_warned_about_and_a_set_one_is_not(app, settings, clock):
    from idp.app import create_app

    args = ["clients", "create", "--name", "ДМС", "--redirect-uri", "https://dms.example/cb", "--json"]
    quiet = app.test_cli_runner().invoke(cli, args)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    ephemeral = create_app(settings.replace(secret_key="").validated(), clock=clock)  # same database
    warned = ephemeral.test_cli_runner().invoke(cli, [*args[:3], "Другой", *args[4:]])
    assert warned.exit_code == 0 and "IDP_SECRET_KEY is not set" in warned.stderr


def test_pkce_is_required_by_default_and_an_opt_out_is_in_the_audit_trail(run, app):
    """RFC 9700 §2.1.1: PKCE of every client. A legacy confidential relying party may be let go without it,
    and the trail names the change, its value and who made it; a public client can never be."""
    created = json.loads(run("create", "--name", "ДМС", "--redirect-uri", "https://dms.example/cb",
                             "--client-id", "dms", "--json")[1])
    assert created["pkce_required"] is True
    legacy = json.loads(run("create", "--name", "Старый портал", "--redirect-uri", "https://old.example/cb",
                            "--client-id", "old", "--pkce-optional", "--json")[1])
    assert legacy["pkce_required"] is False
    assert json.loads(run("update", "dms", "--pkce-optional", "--json")[1])["pkce_required"] is False
    assert json.loads(run("update", "dms", "--pkce-required", "--json")[1])["pkce_required"] is True
    assert json.loads(run("update", "dms", "--name", "ДМС портал", "--json")[1])["pkce_required"] is True

    code, out = run("create", "--name", "SPA", "--redirect-uri", "http://127.0.0.1:3000/cb", "--public",
                    "--pkce-optional", "--json")
    assert code == 1 and json.loads(out)["error"] == "client.pkce.public"
    run("create", "--name", "SPA", "--redirect-uri", "http://127.0.0.1:3000/cb", "--public", "--client-id", "spa")
    code, out = run("update", "spa", "--pkce-optional", "--json")
    assert code == 1 and json.loads(out)["error"] == "client.pkce.public"

    from idp.audit import search
    with app.app_context():
        events = [(e.event, e.client_id, e.details) for e in reversed(search(event="client.*"))]
    assert [(event, client, details.get("pkce_required")) for event, client, details in events] == [
        ("client.created", "dms", True), ("client.created", "old", False),
        ("client.changed", "dms", False), ("client.changed", "dms", True),
        ("client.changed", "dms", None),  # a change that leaves PKCE alone does not mention it
        ("client.created", "spa", True)]
    assert all(details["via"] == "cli" for _, _, details in events)
