"""Putting the provider's OpenID Connect parts together for one application."""
from __future__ import annotations

import logging

from flask import Flask

from idp.extensions import db
from idp.keys import KeyStore
from idp.oidc.protocol.app import ProtocolAPI
from idp.oidc.protocol.context import Provider
from idp.oidc.server import build_server
from idp.oidc.store import Store
from idp.startup import check_keys_dir

log = logging.getLogger(__name__)

STORE = "idp.oidc.store"


def init_oidc(app: Flask, *, production: bool) -> ProtocolAPI:
    """Load the signing keys, build the authorization server and the pages' blueprint on ``app``; return
    the protocol API's application, sharing ``app``'s engine, keys, settings and clock."""
    services = app.extensions["idp"]
    settings = services.settings
    # Authlib logs whole token responses at DEBUG: never let a debug setting put tokens in the logs.
    authlib_log = logging.getLogger("authlib")
    authlib_log.setLevel(max(authlib_log.getEffectiveLevel(), logging.INFO))
    check_keys_dir(settings.keys_dir)  # a folder this process can read (or one to be made)
    keys = app.extensions["idp.keys"] = KeyStore(settings.keys_dir, clock=services.clock,
                                                 reload_interval=settings.keys_reload_interval,
                                                 create_if_missing=not settings.production)
    services.keys = keys  # logout tokens are signed where sessions end (idp.oidc.backchannel)
    if keys.create_if_missing and not any(r.signs_at(services.clock.now()) for r in keys.records()):
        check_keys_dir(settings.keys_dir, writable=True)  # development makes the first key on first use
    if settings.production and not keys.published():
        log.error("no signing key in %s (IDP_KEYS_DIR): ID tokens cannot be issued until `idp init` "
                  "or `idp keys rotate` creates one", settings.keys_dir)
    app.extensions["idp.oidc"] = build_server(app)
    with app.app_context():
        store = app.extensions[STORE] = Store(db.engine, concurrency=settings.protocol_concurrency)

    from idp.oidc.views import bp

    app.register_blueprint(bp)
    return ProtocolAPI(Provider(settings=settings, clock=services.clock, keys=keys, store=store),
                       production=production)
