"""Liveness and readiness for load balancers and orchestrators.

``/healthz``: the process answers. ``/readyz``: it can do its work: the database answers and the
signing keys are loaded. Both are cheap, unauthenticated, and say nothing secret.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from idp.extensions import db

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {"database": _database(), "keys": _keys()}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not_ready",
                   checks={name: "ok" if ok else "failing" for name, ok in checks.items()}), 200 if ready else 503


def _database() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError as exc:
        log.error("readiness: database unreachable: %s", type(exc).__name__)
        db.session.rollback()
        return False


def _keys() -> bool:
    keys = current_app.extensions.get("idp.keys")
    if keys is None:  # no key store configured in this app
        return False
    try:
        return bool(keys.signing_key())
    except Exception as exc:  # a key store that cannot produce a key is exactly "not ready"
        log.error("readiness: signing key unavailable: %s", type(exc).__name__)
        return False
