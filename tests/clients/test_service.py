"""Registering and managing clients through the domain functions (used by the CLI and the admin API)."""
from __future__ import annotations

import hashlib

import pytest

from idp.clients import (ClientExists, ClientNotFound, InvalidClientSettings, InvalidRedirectUri,
                         check_secret, create_client, describe_client, disable_client, enable_client,
                         find_active_client, get_client, hash_secret, list_clients, rotate_secret,
                         update_client)
from idp.clients.secrets import PURPOSE
from idp.extensions import db
from idp.secret_keys import SecretKeys
from tests.conftest import T0

CB = "https://dms.example/callback"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app.extensions["idp"].settings


def test_create_confidential_client_returns_its_secret_once(ctx):
    client, secret = create_client(ctx, name="ДМС", redirect_uris=[CB], now=T0)
    assert len(secret) >= 43 and secret not in client.secret_hash
    assert client.secret_hash.startswith("aead$" + ctx.secret_keys.current_id + ".")
    assert check_secret(secret, client.secret_hash, ctx.secret_keys)
    assert not check_secret(secret + "x", client.secret_hash, ctx.secret_keys)
    assert not check_secret(secret, client.secret_hash, SecretKeys("another-secret-key-" + "z" * 32))
    assert client.scopes == ["openid", "profile", "email", "phone", "offline_access"]
    assert client.grant_types == ["authorization_code", "refresh_token", "client_credentials"]
    assert "client_secret" not in describe_client(client) and "secret_hash" not in describe_client(client)


def test_secret_hash_is_the_sha256_of_the_secret_sealed_under_the_secret_key(ctx):
    stored = hash_secret("s3cret", ctx.secret_keys)
    assert len(stored) <= 100  # oauth_clients.secret_hash is VARCHAR(100)
    assert ctx.secret_keys.open(PURPOSE, stored.removeprefix("aead$")) == hashlib.sha256(b"s3cret").digest()
    assert hash_secret("s3cret", ctx.secret_keys) != stored  # a fresh nonce every time


def test_public_client_has_no_secret_and_no_client_credentials(ctx):
    client, secret = create_client(ctx, name="SPA", redirect_uris=[CB], public=True, now=T0)
    assert secret is None and client.secret_hash is None
    assert client.grant_types == ["authorization_code", "refresh_token"]
    with pytest.raises(InvalidClientSettings) as caught:
        create_client(ctx, name="SPA", redirect_uris=[CB], public=True, grant_types=["client_credentials"],
                      now=T0)
    assert caught.value.code == "client.grant_type.public_client_credentials"
    with pytest.raises(InvalidClientSettings) as caught:
        rotate_secret(ctx, client.client_id, now=T0)
    assert caught.value.code == "client.public_has_no_secret"


def test_chosen_client_id_is_unique_and_well_formed(ctx):
    create_client(ctx, name="ДМС", redirect_uris=[CB], client_id="dms-portal", now=T0)
    with pytest.raises(ClientExists):
        create_client(ctx, name="ДМС", redirect_uris=[CB], client_id="dms-portal", now=T0)
    for bad in ("-dash", "a", "with space", "x" * 65, "кириллица"):
        with pytest.raises(InvalidClientSettings) as caught:
            create_client(ctx, name="ДМС", redirect_uris=[CB], client_id=bad, now=T0)
        assert caught.value.code == "client.client_id.invalid"


@pytest.mark.parametrize("fields, code", [
    ({"name": " "}, "client.name.required"),
    ({"name": "x" * 201}, "client.name.invalid"),
    ({"redirect_uris": []}, "client.redirect_uri.required"),
    ({"redirect_uris": ["http://dms.example/cb"]}, "client.redirect_uri.scheme"),
    ({"post_logout_redirect_uris": ["https://dms.example/#x"]}, "client.redirect_uri.fragment"),
    ({"scopes": ["openid", "bad\"scope"]}, "client.scope.invalid"),
    ({"grant_types": ["password"]}, "client.grant_type.invalid"),
    ({"grant_types": []}, "client.grant_type.required"),
])
def test_invalid_settings_are_refused_with_a_code(ctx, fields, code):
    args = {"name": "ДМС", "redirect_uris": [CB], **fields}
    with pytest.raises((InvalidClientSettings, InvalidRedirectUri)) as caught:
        create_client(ctx, now=T0, **args)
    assert caught.value.code == code


def test_machine_client_needs_no_redirect_uri(ctx):
    client, _ = create_client(ctx, name="Batch", grant_types=["client_credentials"], now=T0)
    assert client.redirect_uris == []


def test_update_replaces_lists_and_flags(ctx):
    client, _ = create_client(ctx, name="ДМС", redirect_uris=[CB], now=T0)
    updated = update_client(client.client_id, name="ДМС 2", redirect_uris=[CB, CB + "2"], first_party=True,
                            scopes="openid email", now=T0)
    assert (updated.name, updated.redirect_uris, updated.first_party, updated.scopes) == (
        "ДМС 2", [CB, CB + "2"], True, ["openid", "email"])
    with pytest.raises(InvalidRedirectUri):
        update_client(client.client_id, redirect_uris=[], now=T0)


def test_rotate_secret_replaces_the_old_one(ctx):
    client, old = create_client(ctx, name="ДМС", redirect_uris=[CB], now=T0)
    _, new = rotate_secret(ctx, client.client_id, now=T0)
    assert new != old
    assert check_secret(new, client.secret_hash, ctx.secret_keys)
    assert not check_secret(old, client.secret_hash, ctx.secret_keys)


def test_disable_and_enable(ctx):
    client, _ = create_client(ctx, name="ДМС", redirect_uris=[CB], now=T0)
    db.session.commit()
    disable_client(client.client_id, now=T0)
    assert find_active_client(client.client_id) is None and get_client(client.client_id).disabled_at == T0
    assert list_clients(include_disabled=False) == []
    enable_client(client.client_id, now=T0)
    assert find_active_client(client.client_id) is client


def test_unknown_client(ctx):
    with pytest.raises(ClientNotFound):
        get_client("nope")
    assert find_active_client(None) is None and find_active_client("x" * 1000) is None
