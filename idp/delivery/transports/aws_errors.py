"""Turning boto3's exceptions into a :class:`DeliveryError` that says whether the message may have gone."""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from idp.delivery.transports.base import DeliveryError


def delivery_error(service: str, exc: Exception) -> DeliveryError:
    """A loggable error (the service's error code or the exception's class, never a message body).

    * ``ClientError``: the service answered and refused — not sent.
    * botocore's ``ConnectionError`` family (connection refused, connect timeout, proxy, TLS handshake):
      the request never left — not sent.
    * botocore's ``HTTPClientError`` family (read timeout, connection closed or broken while waiting for
      the answer): the request may have been taken — ``maybe_sent``, so it is not blindly retried.
    """
    if isinstance(exc, ClientError):
        return DeliveryError(f"{service} refused the message: {exc.response.get('Error', {}).get('Code')}")
    if isinstance(exc, HTTPClientError):
        return DeliveryError(f"{service} did not answer: {type(exc).__name__}", maybe_sent=True)
    if isinstance(exc, BotoCoreError):
        return DeliveryError(f"{service} unreachable: {type(exc).__name__}")
    raise TypeError(f"not a boto3 error: {type(exc).__name__}")
