"""The courier: picks the transport for a message's channel, built once from the settings."""
from __future__ import annotations

import os

from idp.delivery.message import EMAIL, HTTP, SMS, OutgoingMessage
from idp.delivery.transports import (DeliveryError, HttpPostTransport, MailboxTransport, SesTransport,
                                     SnsTransport, Transport)
from idp.settings import Settings, SettingsError

#: A customer is waiting on the page while a message is handed to SES or SNS, so a dead or unreachable
#: endpoint must fail within seconds, not after botocore's 60-second defaults and five tries.
AWS_CONNECT_TIMEOUT = 3  # seconds to open the connection
AWS_READ_TIMEOUT = 10  # seconds to wait for the answer
#: One attempt per send call, whatever ``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE`` or a profile say: the outbox
#: alone decides retries. botocore's retries would resend after a read timeout, when the provider may
#: already have taken the message — a customer would get it twice, and the company pay twice.
AWS_MAX_ATTEMPTS = 1


class Courier:
    def __init__(self, transports: dict[str, Transport]):
        self.transports = transports

    def send(self, message: OutgoingMessage) -> str:
        transport = self.transports.get(message.channel)
        if transport is None:
            raise DeliveryError(f"no transport for channel {message.channel!r}")
        return transport.send(message)


def build_courier(settings: Settings, *, connect_timeout: float = AWS_CONNECT_TIMEOUT,
                  read_timeout: float = AWS_READ_TIMEOUT) -> Courier:
    """Transports as configured; boto3 clients are created only when an AWS transport is chosen.

    ``connect_timeout``/``read_timeout`` (seconds) are for tests that play a slow provider."""
    mailbox = MailboxTransport(settings.mailbox_path, sender=settings.email_from)
    transports: dict[str, Transport] = {EMAIL: mailbox, SMS: mailbox,
                                        HTTP: HttpPostTransport(timeout=read_timeout)}
    if settings.email_transport == "ses" or settings.sms_transport == "sns":
        session, config = aws_session(connect_timeout=connect_timeout, read_timeout=read_timeout)
        if settings.email_transport == "ses":
            transports[EMAIL] = SesTransport(session.client("sesv2", config=config),
                                             sender=settings.email_from)
        if settings.sms_transport == "sns":
            transports[SMS] = SnsTransport(session.client("sns", config=config),
                                           sender_id=settings.sms_sender_id)
    return Courier(transports)


def aws_session(*, connect_timeout: float = AWS_CONNECT_TIMEOUT, read_timeout: float = AWS_READ_TIMEOUT):
    """A boto3 session and client config from boto3's standard variables, with short timeouts and one
    attempt per call.

    Endpoint (``AWS_ENDPOINT_URL``) and credentials come from boto3's own variables and shared config
    files; retry settings (``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) do not apply to sends: an explicit
    ``total_max_attempts`` in the client's config wins over them (botocore), so a send is one request.
    The region is ``AWS_REGION`` (the AWS SDKs' standard name, which botocore itself does not read), else
    boto3's ``AWS_DEFAULT_REGION`` or the profile's region. Raises
    :class:`SettingsError` when no region is configured at all.
    """
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.Session()
    region = os.environ.get("AWS_REGION") or core.get_config_variable("region")
    if not region:
        raise SettingsError("AWS_REGION is not set: the ses and sns transports need the AWS region "
                            "(e.g. AWS_REGION=eu-central-1)")
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # "standard" and not "adaptive": no client-side rate limiter sleeping in front of the one attempt.
        retries={"total_max_attempts": AWS_MAX_ATTEMPTS, "mode": "standard"},
    )
    return boto3.session.Session(botocore_session=core, region_name=region), config
