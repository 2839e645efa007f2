"""E-mail through Amazon SES (API v2) with boto3.

Region, endpoint and credentials come from boto3's own standard variables (``AWS_REGION``,
``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``…), so the same code talks to AWS or to any compatible endpoint.
"""
from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from idp.delivery.message import OutgoingMessage, mask_recipient
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
        try:
            response = self.client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [message.recipient]},
                Content={"Simple": {"Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body}},
            )
        except ClientError as exc:
            raise DeliveryError(f"SES refused the message: {exc.response['Error'].get('Code')}") from None
        except BotoCoreError as exc:
            raise DeliveryError(f"SES unreachable: {type(exc).__name__}") from None
        message_id = response.get("MessageId", "")
        log.info("ses: %s e-mail to %s sent as %s", message.template, mask_recipient(message.recipient), message_id)
        return message_id
