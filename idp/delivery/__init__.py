"""Delivery: the outbox, its dispatcher, message rendering and the transports (mailbox file, SES, SNS)."""
from idp.delivery.courier import Courier, build_courier
from idp.delivery.dispatcher import Dispatcher
from idp.delivery.message import EMAIL, SMS, OutgoingMessage, mask_recipient
from idp.delivery.models import DEAD, QUEUED, SENDING, SENT, Delivery
from idp.delivery.outbox import dispatch_inline, enqueue
from idp.delivery.rendering import MessageRenderer
from idp.delivery.transports import DeliveryError, read_mailbox

__all__ = ["DEAD", "EMAIL", "QUEUED", "SENDING", "SENT", "SMS", "Courier", "Delivery", "DeliveryError",
           "Dispatcher", "MessageRenderer", "OutgoingMessage", "build_courier", "dispatch_inline", "enqueue", "mask_recipient",
           "read_mailbox"]
