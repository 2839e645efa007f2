"""No secret at rest, none in the logs.

After the whole journey (reset → temporary password → change → sign in through an OIDC client with
``offline_access`` → code exchange → refresh → userinfo), neither a dump of every table nor everything
logged at DEBUG contains the permanent password, the temporary password, the client secret, the code,
the access and refresh tokens or the ID tokens — verbatim or in a reversible encoding (base64, hex).
Passwords and the client secret are also absent as unsalted fast hashes (MD5, SHA-1, SHA-256): bcrypt
and a keyed HMAC. Codes and tokens are stored as their SHA-256 by design: 256 random bits need no salt,
and the hash opens nothing.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import metadata
from idp.oidc.models import token_hash
from tests.oidc.rp import RelyingParty
from tests.security.journey import CALLBACK, LOGIN, run_journey

#: Secrets never stored even as an unsalted fast hash: passwords (bcrypt) and the client secret (keyed HMAC).
NOT_EVEN_HASHED = ("permanent password", "temporary password", "client secret")

#: Libraries the app itself holds at INFO or above because their DEBUG output carries secrets (Authlib logs
#: whole token responses, botocore whole request bodies); see idp/app.py and idp/oidc/server.py.
QUIETENED = ("authlib", "botocore", "boto3", "urllib3")


@pytest.fixture
def app(make_app, caplog):
    """Every logger at DEBUG before the app exists, as an operator's logging configuration would set them
    (the root, each named logger, the quietened libraries' own loggers); the app must then hold the
    quietened libraries at INFO, and nothing else may log a secret."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and not name.startswith(tuple(f"{q}." for q in QUIETENED)):
            caplog.set_level(logging.DEBUG, logger=name)
    for name in QUIETENED:
        caplog.set_level(logging.DEBUG, logger=name)
    made = make_app()
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.INFO for name in QUIETENED)
    return made


@pytest.fixture
def portal(app, live_server) -> RelyingParty:
    """A first-party confidential client asking for offline_access; its callback is on another host."""
    from idp.clients import create_client

    services = app.extensions["idp"]
    with app.app_context():
        created = create_client(services.settings, name="Портал", redirect_uris=[CALLBACK], first_party=True,
                                now=services.clock.now())
        db.session.commit()
        return RelyingParty(live_server.url, created.client.client_id, created.secret, CALLBACK)


def encodings(value: str) -> dict[str, str]:
    """``value`` and the reversible writings of it a careless store or log might hold."""
    raw = value.encode("utf-8")
    forms = {"verbatim": value, "hex": raw.hex(), "base64": base64.b64encode(raw).decode(),
             "urlsafe base64": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return {how: form for how, form in forms.items() if len(form) >= 8}


def fast_hashes(value: str) -> dict[str, str]:
    raw = value.encode("utf-8")
    return {name: hashlib.new(name, raw).hexdigest() for name in ("md5", "sha1", "sha256")}


def leaks(haystack: str, found) -> list[str]:
    problems, lowered = [], haystack.lower()
    for what, value in found.named().items():
        for how, form in encodings(value).items():
            if form in (lowered if how == "hex" else haystack):  # hex in either case
                problems.append(f"{what} ({how})")
        if what in NOT_EVEN_HASHED:
            problems += [f"{what} (unsalted {name})" for name, digest in fast_hashes(value).items()
                         if digest in lowered]
    return problems


def dump(app) -> str:
    """Every value of every row of every table, as text (bytes both as text and as hex)."""
    parts = []
    with app.app_context():
        for table in metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        value = bytes(value)
                        parts += [value.decode("utf-8", "replace"), value.hex()]
                    else:
                        parts.append(str(value))
            parts.append(f"<{table.name}>")
    return "\n".join(parts)


def test_no_secret_is_stored_in_the_database(app, live_server, make_account, portal, mailbox):
    found = run_journey(live_server, make_account, portal, mailbox)
    text = dump(app)
    # The dump does see the journey's rows: the account, the client, the hashed codes and tokens.
    assert LOGIN in text and token_hash(found.code) in text
    assert all(token_hash(t) in text for t in found.access_tokens + found.refresh_tokens)
    assert leaks(text, found) == []

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):  # also not in free pages or the journal of the database file
        path = Path(url.removeprefix("sqlite:///"))
        files = (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
        raw = b"".join(p.read_bytes() for p in files if p.exists())
        assert leaks(raw.decode("latin-1"), found) == []


def test_no_secret_is_logged_even_at_debug(app, live_server, make_account, portal, mailbox, caplog):
    found = run_journey(live_server, make_account, portal, mailbox)
    records = caplog.records
    # The capture is real: the provider's request log, its SQL with parameters, its own messages.
    assert any(r.name == "werkzeug" and "/oauth/authorize?" in r.getMessage() for r in records)
    assert any(r.name.startswith("sqlalchemy.engine") for r in records)
    assert any(r.name.startswith("idp.") for r in records)
    # Each record as it was formatted when logged (ORM objects among the arguments are gone by now).
    text = caplog.text + "\n".join(getattr(r, "message", "") for r in records)
    assert leaks(text, found) == []
