"""``idp keys …``: the signing keys in ``IDP_KEYS_DIR`` (list, rotate, prune)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from idp.cli.output import emit, json_option
from idp.keys import activation_delay, describe, prune, retention_seconds, rotate
from idp.keys.files import scan

keys = AppGroup("keys", help="Signing keys for ID tokens (RS256, published at /.well-known/jwks.json).")


def _services():
    return current_app.extensions["idp"]


def _rows():
    svc = _services()
    from pathlib import Path

    return describe(scan(Path(svc.settings.keys_dir)), now=svc.clock.now())


def _table(rows: list[dict]) -> str:
    if not rows:
        return "(no keys: run `idp init`)"
    return "\n".join(f"{r['status']:<9} {r['kid']}  created {r['created_at']}"
                     f"  active from {r['activates_at']}"
                     + (f"  retire after {r['retire_after']}" if r["retire_after"] else "") for r in rows)


@keys.command("list")
@json_option
def list_(as_json):
    """List keys, newest first, with their status (signing, next, published, retired)."""
    rows = _rows()
    emit(rows, as_json, None if as_json else _table(rows))


@keys.command("rotate")
@click.option("--retire-after", "retain", type=click.IntRange(0), default=None,
              help="Seconds the replaced keys stay published after the new key activates "
                   "[default: ID-token lifetime + reload interval + 5 minutes].")
@click.option("--activate-in", type=click.IntRange(0), default=None,
              help="Publish the new key now but sign with it only after this many seconds, so every instance "
                   "and relying-party JWKS cache sees it first [default: reload interval + 5 minutes when a key "
                   "is signing, else 0; 0 for an emergency, e.g. a leaked key].")
@json_option
def rotate_(retain, activate_in, as_json):
    """Add a new signing key; older keys stay in the JWKS until their tokens have expired."""
    svc = _services()
    settings = svc.settings
    if retain is None:
        retain = retention_seconds(settings.id_token_ttl, settings.keys_reload_interval)
    if activate_in is None:
        signing = any(row["status"] == "signing" for row in _rows())
        activate_in = activation_delay(settings.keys_reload_interval) if signing else 0
    new = rotate(settings.keys_dir, now=svc.clock.now(), retain=retain, activate_in=activate_in)
    rows = _rows()
    emit({"new_kid": new.kid, "keys": rows}, as_json,
         None if as_json else f"New signing key {new.kid}\n{_table(rows)}")


@keys.command("prune")
@json_option
def prune_(as_json):
    """Delete the files of retired keys (no longer published)."""
    svc = _services()
    removed = prune(svc.settings.keys_dir, now=svc.clock.now())
    emit({"removed": removed}, as_json, None if as_json else (f"Removed {len(removed)} retired key(s)"))
