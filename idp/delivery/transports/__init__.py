"""Transports: how a rendered message leaves the provider (mailbox file, SES, SNS)."""
from idp.delivery.transports.base import PERMANENT, THROTTLED, TRANSIENT, DeliveryError, Transport
from idp.delivery.transports.http_post import HttpPostTransport
from idp.delivery.transports.mailbox import MailboxTransport, read_mailbox
from idp.delivery.transports.ses import SesTransport
from idp.delivery.transports.sns import SnsTransport

__all__ = ["PERMANENT", "THROTTLED", "TRANSIENT", "DeliveryError", "HttpPostTransport", "MailboxTransport",
           "SesTransport", "SnsTransport", "Transport", "read_mailbox"]
