"""Signed proofs a browser carries to the sign-in form, so that a credential-stuffing flood cannot crowd out the
people it is aimed at (see :mod:`idp.passwords.admission`):

* the **device cookie** (``idp_device``; ``__Host-idp_device`` in production): set after a successful sign-in,
  it says "this browser has signed in as this login before". An attempt carrying it for the login it types goes
  to the priority lane. It holds up to :data:`MAX_LOGINS` entries (a family computer), each
  ``[subject, device epoch, refreshed at, login digest]``, and is signed with the secret key (:attr:`SecretKeys.signing_keys`,
  so a key rotation keeps it and dropping the old key ends it). An entry is good only for

  - the login it was made for: the *login digest* is an HMAC of the normalised login under the secret key
    (nobody reading the cookie learns or can test the login), compared in constant time;
  - the account's current *device epoch* (``accounts.device_epoch``), which every "end all the account's
    sessions" moves on — an operator's «sign out everywhere», blocking, a password change — so each of them
    revokes every device cookie of the account at once;
  - a year from when it was last refreshed (each successful sign-in refreshes it).

* the **retry ticket**: the hidden field of the page that says a sign-in must wait (the flood filled the queue).
  Bound to the login typed and the address it came from, good for :data:`TICKET_MAX_AGE`, it sends the second
  try of that login from that address to the retry lane, which the flood does not reach: a customer on a new
  device gets in on the next try. Both are made without looking at accounts, so they are the same for a login
  that exists and one that does not.
"""
from __future__ import annotations

import calendar
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from idp.secret_keys import SecretKeys

#: Logins remembered by one browser; the oldest is forgotten first.
MAX_LOGINS = 5
#: A device cookie not refreshed by a sign-in for a year is no longer honoured (and the browser drops it).
DEVICE_MAX_AGE = 365 * 24 * 3600
#: A retry ticket is good for ten minutes after the refusal that gave it.
TICKET_MAX_AGE = 600
_DEVICE_SALT = "idp.signin.device"
_TICKET_SALT = "idp.signin.retry"
_DIGEST_CONTEXT = b"idp/signin/login/"
#: Longer values are not even parsed (a real cookie with five entries is about 450 characters).
_MAX_LENGTH = 1500


def cookie_name(production: bool) -> str:
    """The cookie's name: in production with the ``__Host-`` prefix (Secure, Path=/, no Domain), like the
    session cookie."""
    return "__Host-idp_device" if production else "idp_device"


def _unix(moment: datetime) -> int:
    return calendar.timegm(moment.utctimetuple())


def _digest(key: str, purpose: bytes, value: str) -> str:
    return hmac.new(key.encode("utf-8"), _DIGEST_CONTEXT + purpose + value.encode("utf-8"),
                    hashlib.sha256).hexdigest()[:32]


def _matches(keys: SecretKeys, purpose: bytes, value: str, digest: object) -> bool:
    """Whether ``digest`` is ``value``'s digest under one of the accepted keys (every key tried: constant work)."""
    if not isinstance(digest, str):
        return False
    found = False
    for key in keys.accepted:
        found |= hmac.compare_digest(_digest(key, purpose, value).encode("ascii"), digest.encode("utf-8"))
    return found


@dataclass(frozen=True)
class DeviceEntry:
    subject: str
    epoch: int


def _entries(keys: SecretKeys, value: str | None, now: datetime) -> list[list]:
    """The well-formed, unexpired entries of a genuine cookie, newest first; [] for anything else."""
    if not value or len(value) > _MAX_LENGTH:
        return []
    try:
        payload = URLSafeSerializer(keys.signing_keys, salt=_DEVICE_SALT).loads(value)
    except BadSignature:
        return []
    if not isinstance(payload, list):
        return []
    fresh = []
    for entry in payload[:MAX_LOGINS]:
        if (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                and all(isinstance(part, int) and not isinstance(part, bool) for part in entry[1:3])
                and isinstance(entry[3], str) and 0 <= _unix(now) - entry[2] <= DEVICE_MAX_AGE):
            fresh.append(entry)
    return fresh


def remembered(keys: SecretKeys, value: str | None, login_value: str, now: datetime) -> DeviceEntry | None:
    """The entry a genuine device cookie ``value`` holds for ``login_value`` (normalised), or None. The caller
    still compares it with the account: the subject, and the epoch (:func:`honoured`)."""
    for subject, epoch, _issued, digest in _entries(keys, value, now):
        if _matches(keys, b"device:", login_value, digest):
            return DeviceEntry(subject, epoch)
    return None


def honoured(entry: DeviceEntry | None, subject: str, epoch: int) -> bool:
    """Whether ``entry`` is good for the account with this subject and device epoch (not revoked since)."""
    return (entry is not None and hmac.compare_digest(entry.subject.encode("utf-8"), subject.encode("utf-8"))
            and entry.epoch == epoch)


def remember(keys: SecretKeys, value: str | None, login_value: str, subject: str, epoch: int,
             now: datetime) -> str:
    """The device cookie after a successful sign-in as ``login_value``: this login's entry (new, or refreshed to
    the account's current epoch) first, the other still-valid entries after it, at most :data:`MAX_LOGINS`."""
    others = [entry for entry in _entries(keys, value, now)
              if not _matches(keys, b"device:", login_value, entry[3])]
    entry = [subject, epoch, _unix(now), _digest(keys.current, b"device:", login_value)]
    return URLSafeSerializer(keys.signing_keys, salt=_DEVICE_SALT).dumps([entry, *others][:MAX_LOGINS])


def _where(address: str | None) -> str:
    return (address or "-")[:45]


def issue_ticket(keys: SecretKeys, login_value: str, address: str | None, now: datetime) -> str:
    """The retry ticket of a sign-in of ``login_value`` from ``address`` refused at ``now`` because the queue
    was full."""
    return URLSafeSerializer(keys.signing_keys, salt=_TICKET_SALT).dumps(
        [_unix(now), _digest(keys.current, b"ticket:", login_value + "\n" + _where(address))])


def ticket_moment(keys: SecretKeys, value: str | None, login_value: str, address: str | None,
                  now: datetime) -> int | None:
    """When the refusal that gave ``value`` happened (Unix seconds), if it is a genuine, recent retry ticket for
    this login from this address; else None. The retry lane serves the oldest tickets first."""
    if not value or len(value) > 300:
        return None
    try:
        payload = URLSafeSerializer(keys.signing_keys, salt=_TICKET_SALT).loads(value)
    except BadSignature:
        return None
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
            and not isinstance(payload[0], bool)):
        return None
    moment, digest = payload
    if (0 <= _unix(now) - moment <= TICKET_MAX_AGE
            and _matches(keys, b"ticket:", login_value + "\n" + _where(address), digest)):
        return moment
    return None
