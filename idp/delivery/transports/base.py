"""The transport interface and its one error."""
from __future__ import annotations

from typing import Protocol

from idp.delivery.message import OutgoingMessage


class DeliveryError(Exception):
    """The transport could not hand the message over; ``str()`` is safe to log (no message body).

    ``maybe_sent`` is true when the request may have reached the provider (a timeout after sending):
    retrying could deliver the message twice, so the dispatcher does not retry such a failure.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Hand ``message`` over; return the provider's message id. Raises :class:`DeliveryError`."""
