"""What every protocol endpoint is given: the provider's settings, clock, signing keys and store, and the
parts of one HTTP request it reads. Both are plain values passed as arguments."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from idp.audit import Origin
from idp.clock import Clock
from idp.keys import KeyStore
from idp.oidc.protocol.errors import InvalidRequest
from idp.oidc.store import Store
from idp.settings import Settings

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Provider:
    """The provider as the protocol endpoints see it."""

    settings: Settings
    clock: Clock
    keys: KeyStore
    store: Store

    @property
    def issuer(self) -> str:
        return self.settings.issuer


@dataclass(frozen=True)
class Call:
    """One request to a protocol endpoint: its method, ``Authorization`` header, form parameters (each
    present once: :func:`read_form`), origin (for the audit trail) and id (for the log lines it causes)."""

    method: str
    authorization: str | None
    form: dict[str, str]
    origin: Origin
    request_id: str = "-"

    @property
    def log(self) -> dict:
        """``extra`` of a log call made for this request: its request id."""
        return {"request_id": self.request_id}


def read_form(body: bytes, content_type: str | None, *, required: bool = True) -> dict[str, str]:
    """A form-encoded body as a dict. RFC 6749 §3.1/§3.2: parameters sent without a value are as if omitted,
    and none may be included more than once; the body must be ``application/x-www-form-urlencoded``
    (RFC 6749 §4.1.3) and UTF-8. Another kind of body is ``invalid_request`` where the parameters must come
    in a form (``required``), else no parameters (a resource's request may have a body of its own)."""
    if not body:
        return {}
    if (content_type or "").split(";")[0].strip().lower() != FORM:
        if not required:
            return {}
        raise InvalidRequest("The request body must be application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The request body is not valid UTF-8 form data.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise InvalidRequest(f"The parameter {printable(name)!r} must not be repeated.")
        if "\x00" in value:
            raise InvalidRequest(f"The parameter {printable(name)!r} contains a NUL character.")
        form[name] = value
    return form


def printable(name: str) -> str:
    """A parameter name or value as an error description may show it (printable ASCII, no quotes, short)."""
    return "".join(c for c in name[:40] if 32 <= ord(c) < 127 and c not in "\"'\\")
