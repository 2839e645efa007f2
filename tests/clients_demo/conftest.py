"""Fixtures for the ДМС portal demo: the real provider and the real portal, each on its own loopback port."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask

from clients.dms_portal import PortalConfig, create_app as create_portal
from idp.clock import Clock
from tests.conftest import LiveServer

PORTAL_CLIENT_ID = "dms-portal"


@pytest.fixture
def clock():
    # The portal checks ID-token times against the wall clock (as every relying party does), so the
    # provider must issue them by the wall clock too, not by the suite's frozen one.
    return Clock()


@dataclass
class RunningPortal:
    url: str
    app: Flask
    client_id: str
    client_secret: str

    def signin(self, http) -> dict | None:
        """The portal's server-side record of the browser whose cookies are in ``http`` (tokens, claims)."""
        cookie = http.cookies.get(self.app.config["SESSION_COOKIE_NAME"])
        if not cookie:
            return None
        data = self.app.session_interface.get_signing_serializer(self.app).loads(cookie)
        return self.app.extensions["dms_portal"].signins.get(data.get("signin"))


@pytest.fixture
def portal_server():
    """The portal's loopback port, bound before the portal exists so its redirect URIs can be registered."""
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def register_portal(app, portal_server):
    """``register_portal(**overrides)``: the portal registered at the provider through ``idp.clients``."""
    from idp.clients import create_client
    from idp.extensions import db

    def _register(**overrides):
        services = app.extensions["idp"]
        fields = dict(name="ДМС — портал медицинского страхования", client_id=PORTAL_CLIENT_ID,
                      redirect_uris=[portal_server.url + "/callback"],
                      post_logout_redirect_uris=[portal_server.url + "/"], first_party=True)
        fields.update(overrides)
        with app.app_context():
            created = create_client(services.settings, now=services.clock.now(), **fields)
            db.session.commit()
            return created.client.client_id, created.secret

    return _register


@pytest.fixture
def make_portal(live_server, portal_server, register_portal):
    """``make_portal(scope="", **registration)``: the provider served over HTTP, the portal registered
    with it (first-party unless overridden) and served on its own port, asking for ``scope`` (DMS_SCOPE;
    empty: the portal's default). One portal per test."""

    def _make(*, scope: str = "", **registration) -> RunningPortal:
        client_id, secret = register_portal(**registration)
        config = PortalConfig(issuer=live_server.url, client_id=client_id, client_secret=secret or "",
                              secret_key="portal-test-key-" + "y" * 32, base_url=portal_server.url,
                              scope=scope)
        app = create_portal(config)
        portal_server.start(app)
        return RunningPortal(portal_server.url, app, client_id, secret)

    return _make


@pytest.fixture
def portal(make_portal):
    return make_portal()
