"""Re-keying what is stored under a secret key (``idp secrets rekey``), so a previous key can be dropped.

Three kinds of values are sealed under the secret key (:mod:`idp.secret_keys`) and stored:

* client-secret hashes (``oauth_clients.secret_hash``, :mod:`idp.clients.secrets`);
* queued messages' parameters (``deliveries.payload``, :mod:`idp.delivery.sealing`; erased once sent);
* «Забыли пароль?» requests not yet issued (``reset_requests.payload``).

:func:`rekey` reads each table in batches by id and seals every value under an older key again under the
current one, each batch in one short transaction, each row by a conditional UPDATE (``WHERE id = … AND
value = <what was read>``): a row a sender or an admin changed in between (a message sent, a secret rotated)
is left as it now is, never overwritten with the old contents. Running it twice re-keys nothing the second
time. It is safe while instances serve traffic, once every instance runs with the new key as
``IDP_SECRET_KEY`` (an instance still on the old key goes on sealing new values under it: run it again).

What cannot be re-keyed is reported by :func:`status`: a client hash of the first format (an HMAC: the
secret is needed; one authentication of the client during the rotation upgrades it, or ``idp clients
rotate-secret``), and a value no accepted key opens (sealed under a key already dropped, or damaged).

Session cookies, CSRF tokens and re-authentication markers are not stored: they are signed again under the
current key as they are used (README, "Rotating the secret key").
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update

from idp.clients import OAuthClient
from idp.clients.secrets import LEGACY_SCHEME, SCHEME, rekeyed
from idp.delivery.models import Delivery
from idp.delivery.sealing import Sealer, SealError
from idp.extensions import db
from idp.passwords.models import ResetRequest
from idp.secret_keys import SecretKeys, Unreadable, sealed_key_id

#: Rows read (and re-keyed in one transaction) at a time.
BATCH = 200
#: A value's key as :func:`status` counts it when it names none (the first formats).
FIRST_FORMAT = "first format"


@dataclass(frozen=True)
class Kind:
    """One kind of stored sealed value: its table's column, a row's name in reports, how to re-key one."""

    name: str
    model: type
    column: str
    label: str  # the attribute naming a row for an operator

    def key_of(self, value: str) -> str:
        """The key id a stored value names, or :data:`FIRST_FORMAT`."""
        if self.model is OAuthClient:
            scheme, _, value = value.partition("$")
            if scheme == LEGACY_SCHEME:
                return FIRST_FORMAT
            if scheme != SCHEME:
                return "unknown"
        return sealed_key_id(value) or FIRST_FORMAT

    def rekeyed(self, value: str, keys: SecretKeys) -> str:
        """``value`` under the current key; ``ValueError`` if it cannot be (unreadable, or it needs the
        secret)."""
        if self.model is OAuthClient:
            try:
                return rekeyed(value, keys)
            except Unreadable as exc:
                raise ValueError(str(exc)) from exc
        try:
            return Sealer(keys).reseal(value)
        except SealError as exc:
            raise ValueError(str(exc)) from exc


KINDS = (
    Kind("client secrets", OAuthClient, "secret_hash", "client_id"),
    Kind("queued messages", Delivery, "payload", "id"),
    Kind("reset requests", ResetRequest, "payload", "id"),
)


@dataclass
class Tally:
    """What :func:`rekey` did with one kind of value."""

    kind: str
    rekeyed: int = 0
    current: int = 0  # already under the current key
    changed: int = 0  # changed by someone else between the read and the write: left as it is
    failed: list[str] = field(default_factory=list)  # rows that could not be re-keyed (see :func:`status`)

    def as_dict(self) -> dict:
        return {"rekeyed": self.rekeyed, "current": self.current, "changed_meanwhile": self.changed,
                "not_rekeyed": len(self.failed)}


@dataclass
class Remaining:
    """Values of one kind not under the current key, by the key they name (:func:`status`)."""

    kind: str
    by_key: dict[str, list[str]] = field(default_factory=dict)  # key id (or FIRST_FORMAT) → row names

    def count(self) -> int:
        return sum(len(rows) for rows in self.by_key.values())


def rekey(keys: SecretKeys, *, batch: int = BATCH) -> list[Tally]:
    """Seal every stored value of :data:`KINDS` under an older key again under the current key."""
    return [_rekey_kind(kind, keys, batch) for kind in KINDS]


def _rekey_kind(kind: Kind, keys: SecretKeys, batch: int) -> Tally:
    tally = Tally(kind.name)
    model = kind.model
    column, label = getattr(model, kind.column), getattr(model, kind.label)
    current = keys.current_id
    last_id = 0
    while True:
        rows = db.session.execute(
            select(model.id, label, column).where(model.id > last_id, column.is_not(None))
            .order_by(model.id).limit(batch)).all()
        if not rows:
            db.session.rollback()
            return tally
        last_id = rows[-1][0]
        for row_id, name, value in rows:
            if kind.key_of(value) == current:
                tally.current += 1
                continue
            try:
                new = kind.rekeyed(value, keys)
            except ValueError:
                tally.failed.append(str(name))
                continue
            written = db.session.execute(
                update(model).where(model.id == row_id, column == value).values({kind.column: new})
                .execution_options(synchronize_session=False)).rowcount
            if written == 1:
                tally.rekeyed += 1
            else:
                tally.changed += 1
        db.session.commit()  # one short transaction per batch


def status(keys: SecretKeys) -> list[Remaining]:
    """Every stored value of :data:`KINDS` that is not under the current key, by the key it names."""
    current = keys.current_id
    remaining = []
    for kind in KINDS:
        model = kind.model
        column, label = getattr(model, kind.column), getattr(model, kind.label)
        found = Remaining(kind.name)
        rows = db.session.execute(select(label, column).where(column.is_not(None)).order_by(model.id))
        for name, value in rows:
            key = kind.key_of(value)
            if key != current:
                found.by_key.setdefault(key, []).append(str(name))
        remaining.append(found)
    db.session.rollback()
    return remaining
