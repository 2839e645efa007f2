"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3, OIDC Core
§9), in one place.

* ``client_secret_basic``: HTTP Basic with the form-urlencoded ``client_id`` and secret (RFC 6749 §2.3.1);
* ``client_secret_post``: ``client_id`` and ``client_secret`` in the form;
* ``none``: a public client names itself with ``client_id`` and proves nothing here (PKCE proves
  possession of the code, RFC 7636); a confidential client never authenticates this way.

Secrets are checked against their sealed hashes in constant time (:func:`idp.clients.check_secret`), under
the current secret key or a previous one still accepted; a hash of the first format is replaced by the
current one once its secret is proven while a rotation is under way (:func:`idp.clients.secrets.upgraded`).
Every failure is ``invalid_client`` with 401 (RFC 6749 §5.2); which part failed is logged, never said to
the caller.

The caller reads the client (usually with the token or code the request names, in one query) by the
``client_id`` of :func:`credentials`, then passes it to :func:`authenticate`.
"""
from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from urllib.parse import unquote

from idp.clients import check_secret
from idp.clients.secrets import upgraded
from idp.oidc import store
from idp.oidc.protocol.errors import InvalidClient, UnauthorizedClient
from idp.secret_keys import SecretKeys

log = logging.getLogger(__name__)

BASIC, POST, NONE = "client_secret_basic", "client_secret_post", "none"
#: The methods each endpoint accepts.
TOKEN_METHODS = (BASIC, POST, NONE)
INTROSPECTION_METHODS = (BASIC, POST)
REVOCATION_METHODS = (BASIC, POST, NONE)


@dataclass(frozen=True)
class Credentials:
    """What a request presents: the client it names, the secret (None for ``none``) and the method."""

    client_id: str | None
    secret: str | None
    method: str


def credentials(authorization: str | None, form: dict[str, str]) -> Credentials:
    """The credentials a request presents; ``invalid_client`` if the ``Authorization`` header is present
    but not usable Basic credentials, or if the form's ``client_id`` contradicts them."""
    if authorization:
        basic = _basic(authorization)
        if basic is None:
            raise InvalidClient("The client cannot authenticate with the Authorization header given.")
        client_id, secret = basic
        if form.get("client_id", client_id) != client_id or "client_secret" in form:
            raise InvalidClient("The client must authenticate with one method only.")
        return Credentials(client_id, secret, BASIC)
    if "client_secret" in form:
        return Credentials(form.get("client_id"), form["client_secret"], POST)
    return Credentials(form.get("client_id"), None, NONE)


def _basic(header: str) -> tuple[str, str] | None:
    """The client_id and secret of an ``Authorization: Basic`` header, both non-empty, else None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    client_id, secret = unquote(client_id), unquote(secret)
    return (client_id, secret) if client_id and secret else None


def authenticate(connection, client, presented: Credentials, *, methods: tuple[str, ...], keys: SecretKeys,
                 log_extra: dict):
    """``client`` (the record named by ``presented.client_id``, or None) if the credentials prove it and its
    method is allowed here; else :class:`InvalidClient`. ``keys``: the accepted secret keys; ``connection``:
    the request's, for the one write of a hash upgrade; ``log_extra``: the request's (:attr:`Call.log`)."""
    if not presented.client_id:
        raise InvalidClient("Missing 'client_id' parameter.")
    if client is None or not client.active:
        raise InvalidClient("The client does not exist on this server.")
    method = presented.method
    # A public client has no secret to prove; a confidential client always proves its secret.
    allowed = tuple(m for m in methods if (m == NONE) == bool(client.public))
    if method not in allowed:
        raise InvalidClient(f"The client cannot authenticate with methods: {list(allowed)}")
    if method != NONE:
        if not check_secret(presented.secret, client.secret_hash, keys):
            log.info("client authentication failed for client_id=%r", presented.client_id[:64],
                     extra=log_extra)
            raise InvalidClient("The client cannot authenticate with the credentials given.")
        new_hash = upgraded(presented.secret, client.secret_hash, keys)
        if new_hash is not None:  # once per client: unless another request did it a moment ago
            connection.transaction([], [store.replace_secret_hash(client.id, client.secret_hash, new_hash)])
    return client


def for_grant(connection, client, presented: Credentials, *, grant_type: str, methods: tuple[str, ...],
              keys: SecretKeys, log_extra: dict):
    """:func:`authenticate` at the token endpoint: the client, if it is also allowed ``grant_type``
    (else ``unauthorized_client``, RFC 6749 §5.2)."""
    client = authenticate(connection, client, presented, methods=methods, keys=keys, log_extra=log_extra)
    if not client.check_grant_type(grant_type):
        raise UnauthorizedClient(f"The client is not allowed to use grant_type={grant_type}.")
    return client
