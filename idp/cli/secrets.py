"""``idp secrets …``: rotating ``IDP_SECRET_KEY`` — re-key what is stored under a previous key, and say
what is still under one (README, "Rotating the secret key"; :mod:`idp.rekey`).

Both commands exit with status 0 when nothing stored is under another key than ``IDP_SECRET_KEY`` (the
previous keys may be dropped), 1 otherwise, and list what remains and why.
"""
from __future__ import annotations

from flask import current_app
from flask.cli import AppGroup

from idp.audit import record
from idp.cli.output import emit, json_option
from idp.cli.support import cli_operator
from idp.extensions import db
from idp.rekey import FIRST_FORMAT, Remaining, rekey, status
from idp.secret_keys import SecretKeys

secrets_group = AppGroup("secrets", help="The secret key: re-key what is stored under a previous one.")


def _keys() -> SecretKeys:
    return current_app.extensions["idp"].settings.secret_keys


@secrets_group.command("rekey")
@json_option
def rekey_command(as_json):
    """Seal client-secret hashes, queued messages and reset requests stored under a previous key
    (IDP_PREVIOUS_SECRET_KEYS) again under IDP_SECRET_KEY. Safe to run again, and while instances serve
    traffic; run it once every instance runs with the new IDP_SECRET_KEY."""
    keys = _keys()
    tallies = rekey(keys)
    remaining = status(keys)
    record("secrets.rekeyed", at=current_app.extensions["idp"].clock.now(), operator=cli_operator().login,
           key=keys.current_id, previous=list(keys.previous_ids),
           rekeyed={tally.kind: tally.rekeyed for tally in tallies},
           remaining=sum(found.count() for found in remaining))
    db.session.commit()
    lines = [_keys_line(keys)]
    for tally in tallies:
        line = f"{tally.kind}: {tally.rekeyed} re-keyed, {tally.current} already under the current key"
        if tally.changed:
            line += f", {tally.changed} changed by the provider meanwhile (left as they are)"
        lines.append(line)
    data = {"rekeyed": {tally.kind: tally.as_dict() for tally in tallies}}
    _report(keys, remaining, as_json, lines, data)


@secrets_group.command("status")
@json_option
def status_command(as_json):
    """Say what is stored under another key than IDP_SECRET_KEY (nothing is changed)."""
    keys = _keys()
    _report(keys, status(keys), as_json, [_keys_line(keys)], {})


def _keys_line(keys: SecretKeys) -> str:
    previous = ", ".join(keys.previous_ids) or "none"
    return f"IDP_SECRET_KEY has key id {keys.current_id}; previous keys accepted: {previous}"


def _report(keys: SecretKeys, remaining: list[Remaining], as_json: bool, lines: list[str],
            data: dict) -> None:
    done = not any(found.count() for found in remaining)
    if as_json:
        emit({**data, "current_key": keys.current_id, "previous_keys": list(keys.previous_ids),
              "remaining": {found.kind: found.by_key for found in remaining if found.by_key},
              "done": done}, True)
    else:
        if done:
            lines.append("Nothing stored is under an old key: once every instance runs with this "
                         "IDP_SECRET_KEY, the previous keys can be dropped "
                         "(README, \"Rotating the secret key\").")
        else:
            lines.append("STILL UNDER AN OLD KEY — do not drop the previous keys until nothing is listed "
                         "here:")
            for found in remaining:
                for key, names in found.by_key.items():
                    lines.append(f"  {found.kind}: {len(names)} {_why(found.kind, key, keys)}: "
                                 + ", ".join(names[:20]) + (" …" if len(names) > 20 else ""))
        emit(None, False, "\n".join(lines))
    if not done:
        raise SystemExit(1)


def _why(kind: str, key: str, keys: SecretKeys) -> str:
    if key == FIRST_FORMAT and kind == "client secrets":
        return ("in the first format (an HMAC: re-keyed only with the secret) — each needs one "
                "authentication while the old key is accepted, or `idp clients rotate-secret`")
    if key in keys.previous_ids:
        return (f"under the previous key {key} — run `idp secrets rekey` once every instance runs with the "
                "new IDP_SECRET_KEY (an instance still on the old key seals new values under it)")
    if key == FIRST_FORMAT:
        return "in the first format (no key id) that no accepted key opens"
    return f"under key {key}, which is not an accepted key: they cannot be opened any more"
