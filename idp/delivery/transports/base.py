"""The transport interface and its one error."""
from __future__ import annotations

from typing import Protocol

from idp.delivery.message import OutgoingMessage


class DeliveryError(Exception):
    """The transport could not hand the message over; ``str()`` is safe to log (no message body)."""


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> str:
        """Hand ``message`` over; return the provider's message id. Raises :class:`DeliveryError`."""
