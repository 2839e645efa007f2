"""Delivery: rendering message texts and handing them to a transport (mailbox file, SES, SNS)."""
from idp.delivery.courier import Courier, build_courier
from idp.delivery.message import EMAIL, SMS, OutgoingMessage, mask_recipient
from idp.delivery.models import Delivery
from idp.delivery.rendering import MessageRenderer
from idp.delivery.service import record_failure, send_now
from idp.delivery.transports import DeliveryError, read_mailbox

__all__ = ["EMAIL", "SMS", "Courier", "Delivery", "DeliveryError", "MessageRenderer", "OutgoingMessage",
           "build_courier", "mask_recipient", "read_mailbox", "record_failure", "send_now"]
