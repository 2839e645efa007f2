"""Operator actions on the key directory: the first key, rotation, the list, pruning.

Rotation (RFC 7517 §5 key sets; OIDC Core §10.1.1 "Rotation of Asymmetric Signing Keys"): a new key is
added and — after ``activate_in`` seconds, zero by default — becomes the signing key; the keys it
replaces get ``retire_after`` = the new key's activation + ``retain`` seconds, long enough for every
token they signed to expire, and stay in the JWKS until then.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from idp.keys import files
from idp.keys.files import KeyRecord


#: Seconds relying parties may cache the JWKS (its Cache-Control max-age); also the clock-skew margin.
JWKS_MAX_AGE = 300


def activation_delay(reload_interval: int) -> int:
    """Default wait before a new key signs: every instance reloads the folder, every RP cache expires."""
    return reload_interval + JWKS_MAX_AGE


def retention_seconds(id_token_ttl: int, reload_interval: int) -> int:
    """Default time a replaced key stays published: one ID-token lifetime, one reload interval of the
    other instances (they may sign with the old key that much longer) and five minutes of clock skew."""
    return id_token_ttl + reload_interval + JWKS_MAX_AGE


def ensure_first_key(folder: str | Path, *, now: datetime) -> KeyRecord | None:
    """Create a signing key if the folder has none that is unretired; return it, or None if one existed."""
    folder = Path(folder)
    existing = files.scan(folder)
    if any(not r.retired_at(now) for r in existing):
        return None
    return files.load(files.write_new(folder, files.generate(now, serial=files.next_serial(existing))))


def rotate(folder: str | Path, *, now: datetime, retain: int, activate_in: int = 0) -> KeyRecord:
    """Add a new signing key; schedule the retirement of every key it replaces. Returns the new key."""
    folder = Path(folder)
    if retain < 0 or activate_in < 0:
        raise ValueError("retain and activate_in are seconds from now, not negative")
    activates_at = now + timedelta(seconds=activate_in)
    retire_after = activates_at + timedelta(seconds=retain)
    existing = files.scan(folder)
    new = files.load(files.write_new(folder, files.generate(now, serial=files.next_serial(existing),
                                                             activates_at=activates_at)))
    for record in existing:
        if record.retire_after is None or record.retire_after > retire_after:
            document = files.read_document(record.path)
            document["retire_after"] = files.iso(retire_after)
            files.rewrite(record.path, document)
    return new


def prune(folder: str | Path, *, now: datetime) -> list[str]:
    """Delete the files of keys retired before ``now``; returns their kids."""
    removed = []
    for record in files.scan(Path(folder)):
        if record.retired_at(now):
            record.path.unlink()
            removed.append(record.kid)
    return removed


def describe(records: list[KeyRecord], *, now: datetime) -> list[dict]:
    """Every key with its status: ``signing``, ``next`` (published, not yet active), ``published`` (old,
    still in the JWKS) or ``retired``. Never private material."""
    signing = next((r for r in reversed(records) if r.signs_at(now)), None)
    rows = []
    for record in reversed(records):
        if record is signing:
            status = "signing"
        elif record.retired_at(now):
            status = "retired"
        elif record.activates_at > now:
            status = "next"
        else:
            status = "published"
        rows.append({
            "kid": record.kid, "alg": files.ALG, "status": status, "file": record.path.name,
            "created_at": files.iso(record.created_at), "activates_at": files.iso(record.activates_at),
            "retire_after": files.iso(record.retire_after) if record.retire_after else None,
        })
    return rows
