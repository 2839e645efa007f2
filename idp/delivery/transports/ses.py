"""E-mail through Amazon SES (API v2) with boto3.

Region, endpoint and credentials come from boto3's own standard variables (``AWS_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``…), so the same code talks to AWS or to any compatible endpoint.
"""
from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError
from email_validator import EmailNotValidError, validate_email

from idp.delivery.message import OutgoingMessage, mask_recipient
from idp.delivery.transports.aws_errors import delivery_error
from idp.delivery.transports.base import DeliveryError

log = logging.getLogger(__name__)


class SesTransport:
    def __init__(self, client, sender: str):
        self.client = client  # a boto3 "sesv2" client
        self.sender = sender

    def send(self, message: OutgoingMessage) -> str:
        body = {"Text": {"Data": message.text, "Charset": "UTF-8"}}
        if message.html:
            body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
        sender, recipient = ses_address(self.sender), ses_address(message.recipient)
        try:
            response = self.client.send_email(
                FromEmailAddress=sender,
                Destination={"ToAddresses": [recipient]},
                Content={"Simple": {"Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise delivery_error("SES", exc) from None
        message_id = response.get("MessageId", "")
        log.info("ses: %s e-mail to %s sent as %s", message.template, mask_recipient(message.recipient), message_id)
        return message_id


def ses_address(address: str) -> str:
    """``address`` as SES takes it: 7-bit ASCII, an internationalised domain in Punycode.

    SES has no SMTPUTF8, so ``client@почта.рф`` goes out as ``client@xn--80a1acny.xn--p1ai``; an address
    whose part before the @ is not ASCII cannot be sent through SES at all (:class:`DeliveryError`).
    """
    if address.isascii():
        return address
    try:
        ascii_address = validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError:
        ascii_address = None
    if not ascii_address:
        raise DeliveryError("SES cannot send to or from an address with non-ASCII characters before the @")
    return ascii_address
