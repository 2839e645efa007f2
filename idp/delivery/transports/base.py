"""The transport interface and its one error."""
from __future__ import annotations

from typing import Protocol

from idp.delivery.message import OutgoingMessage

#: What a failed hand-off means for the outbox (:attr:`DeliveryError.kind`).
TRANSIENT = "transient"  # not taken this time (unreachable, a server error, an unknown code): retry, backoff
THROTTLED = "throttled"  # the provider asks us to slow down: retry later, not a failure of the message
PERMANENT = "permanent"  # refused for good (rejected, unverified sender, invalid number): dead at once
KINDS = (TRANSIENT, THROTTLED, PERMANENT)


class DeliveryError(Exception):
    """The transport could not hand the message over; ``str()`` is safe to log (no message body) and
    readable by an admin (it becomes the row's ``last_error``).

    ``maybe_sent`` is true when the request may have reached the provider (a timeout after sending):
    retrying could deliver the message twice, so the dispatcher never retries such a failure by itself.
    ``kind`` says whether trying again can help (:data:`TRANSIENT`, :data:`THROTTLED`, :data:`PERMANENT`);
    ``reason``, what a permanent refusal means, in words for the admin who reads the dead letter.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False, kind: str = TRANSIENT, reason: str = ""):
        super().__init__(message)
        if kind not in KINDS:
            raise ValueError(f"unknown delivery error kind {kind!r}")
        self.maybe_sent = maybe_sent
        self.kind = kind
        self.reason = reason

    @property
    def throttled(self) -> bool:
        return self.kind == THROTTLED

    @property
    def permanent(self) -> bool:
        return self.kind == PERMANENT


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Hand ``message`` over; return the provider's message id. Raises :class:`DeliveryError`."""
