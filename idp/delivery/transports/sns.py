"""SMS through Amazon SNS (``Publish`` to a phone number) with boto3.

Messages are marked Transactional (delivered even to numbers that opted out of promotional SMS, with
the better route) and carry the configured alphanumeric sender id.
"""
from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from idp.delivery.message import OutgoingMessage, mask_recipient
from idp.delivery.transports.aws_errors import delivery_error

log = logging.getLogger(__name__)


class SnsTransport:
    def __init__(self, client, sender_id: str):
        self.client = client  # a boto3 "sns" client
        self.sender_id = sender_id

    def send(self, message: OutgoingMessage) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        try:
            response = self.client.publish(PhoneNumber=message.recipient, Message=message.text,
                                           MessageAttributes=attributes)
        except (ClientError, BotoCoreError) as exc:
            raise delivery_error("SNS", exc) from None
        message_id = response.get("MessageId", "")
        log.info("sns: %s SMS to %s sent as %s", message.template, mask_recipient(message.recipient), message_id)
        return message_id
