"""Client changes made by an admin: the domain call, its audit event and the commit, as one transaction.

The REST API, the web area and ``idp clients`` all come through here, so a change looks the same in the trail whichever
surface made it. On a domain error nothing is kept: the transaction is rolled back and the error raised.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from idp.admin.bearer import ADMIN_SCOPE
from idp.audit import Origin, record
from idp.clients import (ClientExists, ClientWithSecret, OAuthClient, create_client, disable_client,
                         enable_client, rotate_secret, update_client)
from idp.errors import Conflict, IdpError
from idp.extensions import db
from idp.services import Services

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who made a change: an admin's account (web area) or an admin API client (bearer token)."""

    via: str  # "web", "api" or "cli"
    origin: Origin = field(default_factory=Origin)
    account_id: int | None = None
    client_id: str | None = None

    def details(self) -> dict:
        found = {"via": self.via}
        if self.client_id is not None:
            found["by_client"] = self.client_id
        return found


class SelfLockout(Conflict):
    """An admin API client may not cut off its own access: disable itself, rotate its own secret (the new
    one would live only in the answer to this request), or drop the ``admin`` scope or the
    ``client_credentials`` grant it calls the API with. Another admin client, the web area or
    ``idp clients`` may."""

    code = "client.self_lockout"


def _not_itself(actor: Actor, client_id: str, what: str, code: str) -> None:
    if actor.client_id is not None and actor.client_id == client_id:
        raise SelfLockout(f"a client cannot {what} through the API with its own token: it would lock itself "
                          f"out; use another admin client, the admin area or `idp clients`", code=code)


def _in_transaction(work: Callable[[], T]) -> T:
    try:
        result = work()
        db.session.commit()
        return result
    except IdpError:
        db.session.rollback()
        raise


def register(services: Services, actor: Actor, **fields) -> ClientWithSecret:
    """``create_client`` with the given fields; the secret comes back in clear, once."""
    now = services.clock.now()

    def work():
        created = create_client(services.settings, now=now, **fields)
        client = created.client
        record("client.created", at=now, origin=actor.origin, account_id=actor.account_id,
               client_id=client.client_id, public=client.public, first_party=client.first_party,
               pkce_required=client.requires_pkce, access_token_format=client.access_token_format,
               **actor.details())
        return created

    try:
        return _in_transaction(work)
    except IntegrityError:
        # Two registrations raced for the same chosen client_id; the loser is told so, not a 500.
        db.session.rollback()
        raise ClientExists(f"client {fields.get('client_id')!r} exists") from None


def change(services: Services, actor: Actor, client_id: str, **fields) -> OAuthClient:
    """``update_client`` with the given fields (absent ones stay as they are)."""
    if fields.get("scopes") is not None and ADMIN_SCOPE not in " ".join(fields["scopes"]).split():
        _not_itself(actor, client_id, "remove the admin scope from itself", "client.self_lockout.scope")
    if fields.get("grant_types") is not None and "client_credentials" not in fields["grant_types"]:
        _not_itself(actor, client_id, "remove the client_credentials grant from itself",
                    "client.self_lockout.grant_type")
    now = services.clock.now()

    def work():
        client = update_client(client_id, now=now, **fields)
        # An opt-out of PKCE (or back in) is named with its value: the trail shows who weakened a client.
        named = {"pkce_required": client.requires_pkce} if "pkce_required" in fields else {}
        # So is a change of the access-token format (a JWT is not revocable at resource servers).
        if "access_token_format" in fields:
            named["access_token_format"] = client.access_token_format
        _changed(actor, client, now, "update", fields=sorted(fields), **named)
        return client

    return _in_transaction(work)


def new_secret(services: Services, actor: Actor, client_id: str) -> ClientWithSecret:
    _not_itself(actor, client_id, "rotate its own secret", "client.self_lockout.secret")
    now = services.clock.now()

    def work():
        rotated = rotate_secret(services.settings, client_id, now=now)
        _changed(actor, rotated.client, now, "rotate_secret")
        return rotated

    return _in_transaction(work)


def disable(services: Services, actor: Actor, client_id: str) -> OAuthClient:
    _not_itself(actor, client_id, "disable itself", "client.self_lockout.disable")
    now = services.clock.now()

    def work():
        client = disable_client(client_id, now=now)
        _changed(actor, client, now, "disable")
        return client

    return _in_transaction(work)


def enable(services: Services, actor: Actor, client_id: str) -> OAuthClient:
    now = services.clock.now()

    def work():
        client = enable_client(client_id, now=now)
        _changed(actor, client, now, "enable")
        return client

    return _in_transaction(work)


def _changed(actor: Actor, client: OAuthClient, now, change: str, **details) -> None:
    record("client.changed", at=now, origin=actor.origin, account_id=actor.account_id,
           client_id=client.client_id, change=change, **details, **actor.details())
