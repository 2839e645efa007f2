"""The redirect-URI rules as a table: every URI with the rule it breaks (or None)."""
from __future__ import annotations

import pytest

from idp.clients import InvalidRedirectUri, is_registered, validate_redirect_uri, validate_redirect_uris


@pytest.mark.parametrize("uri, broken_rule", [
    ("https://dms.metlife.ru/callback", None),
    ("https://dms.metlife.ru/callback?tenant=1", None),
    ("https://dms.metlife.ru:8443/cb", None),
    ("http://127.0.0.1:8080/cb", None),
    ("http://localhost/cb", None),
    ("http://[::1]:5000/cb", None),
    ("http://dms.metlife.ru/callback", "client.redirect_uri.scheme"),
    ("http://127.0.0.2/cb", "client.redirect_uri.scheme"),
    ("http://localhost.evil.example/cb", "client.redirect_uri.scheme"),
    ("ftp://dms.metlife.ru/cb", "client.redirect_uri.scheme"),
    ("javascript:alert(1)", "client.redirect_uri.scheme"),
    ("com.metlife.app:/callback", "client.redirect_uri.scheme"),
    ("/callback", "client.redirect_uri.scheme"),
    ("https:///callback", "client.redirect_uri.scheme"),
    ("https://dms.metlife.ru/callback#top", "client.redirect_uri.fragment"),
    ("https://dms.metlife.ru/callback#", "client.redirect_uri.fragment"),
    ("https://*.metlife.ru/callback", "client.redirect_uri.wildcard"),
    ("https://user:pass@dms.metlife.ru/cb", "client.redirect_uri.userinfo"),
    ("https://user@dms.metlife.ru/cb", "client.redirect_uri.userinfo"),
    ("https://dms.metlife.ru/call back", "client.redirect_uri.malformed"),
    ("https://dms.metlife.ru/cb\n", "client.redirect_uri.malformed"),
    ("https://dms.metlife.ru:99999/cb", "client.redirect_uri.malformed"),
    ("https://[::1/cb", "client.redirect_uri.malformed"),
    ("", "client.redirect_uri.malformed"),
    ("https://dms.metlife.ru/" + "a" * 2000, "client.redirect_uri.too_long"),
])
def test_redirect_uri_rules(uri, broken_rule):
    if broken_rule is None:
        assert validate_redirect_uri(uri) == uri
    else:
        with pytest.raises(InvalidRedirectUri) as caught:
            validate_redirect_uri(uri)
        assert caught.value.code == broken_rule


def test_list_drops_duplicates_and_keeps_order():
    uris = ["https://b.example/cb", "https://a.example/cb", "https://b.example/cb"]
    assert validate_redirect_uris(uris) == ["https://b.example/cb", "https://a.example/cb"]


def test_list_may_be_required():
    with pytest.raises(InvalidRedirectUri) as caught:
        validate_redirect_uris([], required=True)
    assert caught.value.code == "client.redirect_uri.required"


@pytest.mark.parametrize("candidate, registered", [
    ("https://a.example/cb", True),
    ("https://a.example/cb/", False),
    ("https://A.example/cb", False),
    ("https://a.example/cb?x=1", False),
    ("https://a.example/c", False),
    ("https://a.example:443/cb", False),
    (None, False),
])
def test_matching_is_exact(candidate, registered):
    assert is_registered(candidate, ["https://a.example/cb"]) is registered
