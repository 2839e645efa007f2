"""Delivery: the outbox, its dispatcher, message rendering and the transports (mailbox file, SES, SNS)."""
from idp.delivery.courier import Courier, build_courier
from idp.delivery.dispatcher import Dispatcher
from idp.delivery.message import EMAIL, HTTP, SMS, OutgoingMessage, mask_recipient
from idp.delivery.models import DEAD, QUEUED, SENDING, SENT, SUPERSEDED, Delivery
from idp.delivery.outbox import channel_backlogged, dispatch_inline, enqueue, supersede
from idp.delivery.rendering import MessageRenderer
from idp.delivery.transports import DeliveryError, read_mailbox

__all__ = ["DEAD", "EMAIL", "HTTP", "QUEUED", "SENDING", "SENT", "SMS", "SUPERSEDED", "Courier", "Delivery",
           "DeliveryError", "Dispatcher", "MessageRenderer", "OutgoingMessage", "build_courier",
           "channel_backlogged", "dispatch_inline", "enqueue", "mask_recipient", "read_mailbox", "supersede"]
