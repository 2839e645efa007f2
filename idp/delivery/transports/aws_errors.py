"""Turning boto3's exceptions into a :class:`DeliveryError` that says whether the message may have gone,
and whether trying again can help.

The codes are those the services document for the calls the transports make (SES API v2 ``SendEmail``,
SNS ``Publish``) and the common errors of every AWS API; botocore reads them from the JSON error body or the
``x-amzn-ErrorType`` header (SES v2, REST-JSON) and from the XML ``<Error><Code>`` (SNS, query protocol).

* **Throttling** — the provider asks us to slow down (SES v2 ``TooManyRequestsException``, HTTP 429, the
  sending rate; ``LimitExceededException``, a quota; SNS ``Throttled``/``Throttling``; any answer with
  HTTP 429): the message is fine, the dispatcher retries it later without counting the attempt against it.
* **Permanent refusals** — the message, its sender or recipient, or the account is refused, and sending the
  same request again gets the same answer (SES ``MessageRejected``, ``MailFromDomainNotVerifiedException``,
  ``AccountSuspendedException``, ``SendingPausedException``, ``BadRequestException``, ``NotFoundException``;
  SNS ``InvalidParameter`` — a phone number SNS does not take —, ``ParameterValueInvalid``,
  ``ValidationException``, ``EndpointDisabled``, ``OptedOut``): dead at once, with a readable reason for the
  admin, who may requeue once the cause is fixed.
* Anything else (a server error, an unknown code, credentials being rotated): retried with backoff as before.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

from idp.delivery.transports.base import PERMANENT, THROTTLED, TRANSIENT, DeliveryError

#: Error codes that mean "too many requests": botocore's own list of throttling codes, and the services' own.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "TooManyRequests", "LimitExceededException",
    "LimitExceeded", "RequestLimitExceeded", "SlowDown", "BandwidthLimitExceeded",
})

#: Permanent refusals, each with what it means for the admin who reads ``last_error``.
PERMANENT_CODES = {
    # SES API v2, SendEmail
    "MessageRejected": "SES refuses this message (an unverified sender or, in the SES sandbox, recipient; "
                       "or its content)",
    "MailFromDomainNotVerifiedException": "the sender's MAIL FROM domain is not verified in SES",
    "AccountSuspendedException": "the SES account is suspended from sending",
    "SendingPausedException": "sending is paused for the SES account or its configuration set",
    "BadRequestException": "SES finds the request invalid",
    "NotFoundException": "SES does not know a resource the request names (a configuration set?)",
    # SNS, Publish to a phone number
    "InvalidParameter": "SNS does not take this phone number (not E.164, not a mobile, or opted out)",
    "ParameterValueInvalid": "SNS finds a parameter value invalid",
    "ValidationException": "SNS finds the request invalid",
    "EndpointDisabled": "the SNS endpoint is disabled",
    "OptedOut": "the phone number opted out of SMS",
    "OptedOutException": "the phone number opted out of SMS",
}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def delivery_error(service: str, exc: Exception) -> DeliveryError:
    """A loggable error (the service's error code or the exception's class, never a message body).

    * ``ClientError``: the service answered and refused — not sent; throttled, permanent or transient by
      its code (see the module's description).
    * botocore's ``ConnectionError`` family (connection refused, connect timeout, proxy, TLS handshake):
      the request never left — not sent.
    * botocore's ``HTTPClientError`` family (read timeout, connection closed or broken while waiting for
      the answer): the request may have been taken — ``maybe_sent``, so it is never resent automatically.

    The provider's own message text is left out on purpose: it may name the recipient in full.
    """
    if isinstance(exc, ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{service} refused the message: {code or status}"
        if code in THROTTLING_CODES or status == 429:
            return DeliveryError(text, kind=THROTTLED)
        if code in PERMANENT_CODES:
            return DeliveryError(text, kind=PERMANENT, reason=PERMANENT_CODES[code])
        return DeliveryError(text, kind=TRANSIENT)
    if isinstance(exc, HTTPClientError):
        return DeliveryError(f"{service} did not answer: {type(exc).__name__}", maybe_sent=True)
    if isinstance(exc, BotoCoreError):
        return DeliveryError(f"{service} unreachable: {type(exc).__name__}")
    raise TypeError(f"not a boto3 error: {type(exc).__name__}")
