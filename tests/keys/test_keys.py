"""Signing keys: files, rotation with a publication window, several instances, the CLI."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from joserfc import jwt

from idp.cli import cli
from idp.clock import FrozenClock
from idp.keys import KeyStore, NoSigningKey, describe, ensure_first_key, prune, rotate
from idp.keys.files import KeyFileError, scan
from tests.conftest import T0


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "keys"


def test_first_key_is_a_private_jwk_file_readable_by_the_owner_only(folder):
    record = ensure_first_key(folder, now=T0)
    assert record is not None and record.path.parent == folder
    assert stat.S_IMODE(os.stat(record.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    document = json.loads(record.path.read_text())
    assert document["kty"] == "RSA" and document["kid"] == record.kid and "d" in document
    assert ensure_first_key(folder, now=T0) is None  # safe to run again


def test_store_signs_with_the_newest_and_publishes_the_old_until_retired(folder):
    clock = FrozenClock(T0)
    first = ensure_first_key(folder, now=T0)
    store = KeyStore(folder, clock=clock, reload_interval=0)
    assert store.signing_key().kid == first.kid

    clock.advance(hours=1)
    second = rotate(folder, now=clock.now(), retain=3600)
    store.reload()
    assert store.signing_key().kid == second.kid
    assert [k["kid"] for k in store.jwks()["keys"]] == [second.kid, first.kid]

    clock.advance(seconds=3599)
    assert len(store.jwks()["keys"]) == 2
    clock.advance(seconds=1)
    assert [k["kid"] for k in store.jwks()["keys"]] == [second.kid]


def test_a_token_signed_before_rotation_still_verifies_against_the_jwks(folder):
    clock = FrozenClock(T0)
    ensure_first_key(folder, now=T0)
    store = KeyStore(folder, clock=clock, reload_interval=0)
    old = store.signing_key()
    token = jwt.encode({"alg": "RS256", "kid": old.kid}, {"sub": "x"}, old.private_key, algorithms=["RS256"])
    rotate(folder, now=T0, retain=3600)
    store.reload()
    assert store.signing_key().kid != old.kid
    assert jwt.decode(token, store.public_keyset(), algorithms=["RS256"]).claims["sub"] == "x"


def test_staged_key_is_published_before_it_signs(folder):
    clock = FrozenClock(T0)
    first = ensure_first_key(folder, now=T0)
    staged = rotate(folder, now=T0, retain=600, activate_in=300)
    store = KeyStore(folder, clock=clock, reload_interval=0)
    assert store.signing_key().kid == first.kid
    assert {k["kid"] for k in store.jwks()["keys"]} == {first.kid, staged.kid}
    assert [r["status"] for r in describe(scan(folder), now=T0)] == ["next", "signing"]
    clock.advance(seconds=300)
    assert store.signing_key().kid == staged.kid


def test_instances_sharing_the_folder_converge_on_the_same_jwks(folder):
    clock = FrozenClock(T0)
    ensure_first_key(folder, now=T0)
    one = KeyStore(folder, clock=clock, reload_interval=0)
    two = KeyStore(folder, clock=clock, reload_interval=0)
    assert one.jwks() == two.jwks()
    rotate(folder, now=T0, retain=3600)  # done by an operator on a third machine
    assert one.jwks() == two.jwks() and len(one.jwks()["keys"]) == 2
    assert one.signing_key().kid == two.signing_key().kid


def test_store_looks_at_the_folder_only_every_reload_interval(folder):
    clock = FrozenClock(T0)
    ensure_first_key(folder, now=T0)
    store = KeyStore(folder, clock=clock, reload_interval=3600)
    rotate(folder, now=T0, retain=3600)
    assert len(store.jwks()["keys"]) == 1  # not yet: loaded once, checked at most hourly here


def test_production_never_makes_a_key_on_its_own(folder):
    store = KeyStore(folder, clock=FrozenClock(T0), create_if_missing=False)
    with pytest.raises(NoSigningKey, match="idp init"):
        store.signing_key()
    assert store.jwks() == {"keys": []}


def test_development_makes_the_first_key_on_demand(folder):
    store = KeyStore(folder, clock=FrozenClock(T0), create_if_missing=True)
    assert store.signing_key().kid == store.jwks()["keys"][0]["kid"]


def test_damaged_key_file_stops_loading(folder):
    ensure_first_key(folder, now=T0)
    (folder / "broken.jwk.json").write_text("{not json")
    with pytest.raises(KeyFileError, match="broken.jwk.json"):
        KeyStore(folder, clock=FrozenClock(T0))


def test_prune_deletes_only_retired_keys(folder):
    ensure_first_key(folder, now=T0)
    second = rotate(folder, now=T0, retain=60)
    clock = FrozenClock(T0)
    assert prune(folder, now=clock.now()) == []
    clock.advance(seconds=60)
    removed = prune(folder, now=clock.now())
    assert len(removed) == 1 and [r.kid for r in scan(folder)] == [second.kid]


def test_keys_cli_list_and_rotate(app, settings):
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["keys", "rotate", "--json"])  # no key yet: signs at once
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)["new_kid"]
    rows = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert [(r["kid"], r["status"]) for r in rows] == [(created, "signing")]
    result = runner.invoke(cli, ["keys", "rotate", "--json"])  # a key signs: the new one is staged
    staged = json.loads(result.output)["new_kid"]
    rows = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert [(r["kid"], r["status"]) for r in rows] == [(staged, "next"), (created, "signing")]
    reload_interval = app.extensions["idp"].settings.keys_reload_interval
    assert rows[0]["activates_at"] > rows[1]["created_at"]
    result = runner.invoke(cli, ["keys", "rotate", "--json", "--retire-after", "120", "--activate-in", "0"])
    newest = json.loads(result.output)["new_kid"]  # an emergency: signs at once
    rows = json.loads(runner.invoke(cli, ["keys", "list", "--json"]).output)
    assert {r["kid"]: r["status"] for r in rows}[newest] == "signing"
    assert {r["kid"]: r["status"] for r in rows}[created] == "published"
    assert reload_interval > 0
    assert all(r["retire_after"] is not None for r in rows if r["kid"] != newest)
    assert all(set(row) == {"kid", "alg", "status", "file", "created_at", "activates_at", "retire_after"}
               for row in rows)  # never key material


def test_init_creates_schema_and_first_key(settings, clock, tmp_path):
    from idp.app import create_app

    app = create_app(settings.replace(database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}"), clock=clock)
    result = app.test_cli_runner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    assert "Signing key created" in result.output
    assert "Signing key present" in app.test_cli_runner().invoke(cli, ["init"]).output
    assert len(scan(Path(settings.keys_dir))) == 1
