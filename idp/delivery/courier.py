"""The courier: picks the transport for a message's channel, built once from the settings."""
from __future__ import annotations

from idp.delivery.message import EMAIL, SMS, OutgoingMessage
from idp.delivery.transports import DeliveryError, MailboxTransport, SesTransport, SnsTransport, Transport
from idp.settings import Settings


class Courier:
    def __init__(self, transports: dict[str, Transport]):
        self.transports = transports

    def send(self, message: OutgoingMessage) -> str:
        transport = self.transports.get(message.channel)
        if transport is None:
            raise DeliveryError(f"no transport for channel {message.channel!r}")
        return transport.send(message)


def build_courier(settings: Settings) -> Courier:
    """Transports as configured; boto3 clients are created lazily only for the AWS ones."""
    mailbox = MailboxTransport(settings.mailbox_path, sender=settings.email_from)
    transports: dict[str, Transport] = {EMAIL: mailbox, SMS: mailbox}
    if settings.email_transport == "ses" or settings.sms_transport == "sns":
        import boto3

        session = boto3.session.Session()
        if settings.email_transport == "ses":
            transports[EMAIL] = SesTransport(session.client("sesv2"), sender=settings.email_from)
        if settings.sms_transport == "sns":
            transports[SMS] = SnsTransport(session.client("sns"), sender_id=settings.sms_sender_id)
    return Courier(transports)
