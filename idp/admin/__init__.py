"""The admin surfaces: a REST API and a web area for OAuth clients, held policies and failed messages.

* ``/api/admin/…`` (:mod:`idp.admin.api`): JSON, described by ``openapi.json`` (served at
  ``/api/admin/openapi.json``); authorised by bearer access tokens from the ``client_credentials`` grant
  carrying the ``admin`` scope (:mod:`idp.admin.bearer`). CSRF-exempt: no cookie is ever consulted.
* ``/admin/…`` (:mod:`idp.admin.views`): hosted pages behind the provider's own sign-in, for accounts
  given the admin role (``idp accounts grant-admin LOGIN``); forms carry CSRF tokens.

Both call the same operations, which write the audit trail with the change: :mod:`idp.admin.operations`
for clients, :mod:`idp.admin.casework` for what the automation left to an admin (held and refused
policies, dead letters; also behind ``idp policies recheck``, ``idp deliveries requeue`` and
``idp accounts update``). Long lists come in pages (:mod:`idp.admin.paging`).
"""
from __future__ import annotations

from flask import Flask

from idp.admin import account_pages  # noqa: F401  (registers the account pages on the web blueprint)
from idp.admin.api import bp as api_bp
from idp.admin.bearer import ADMIN_SCOPE
from idp.admin.views import bp as web_bp

__all__ = ["ADMIN_SCOPE", "api_bp", "init_app", "web_bp"]


def init_app(app: Flask) -> None:
    """Register both blueprints (after ``init_oidc``: the API checks tokens with the provider's protector).

    The API is exempt from CSRF because it is bearer-authorised and never reads a cookie.
    """
    from idp.extensions import csrf

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
