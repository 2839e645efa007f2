"""What a transport sends: one rendered message for one recipient on one channel."""
from __future__ import annotations

from dataclasses import dataclass

EMAIL = "email"
SMS = "sms"
#: An HTTP POST of a form to a URL (a relying party's back-channel logout URI): ``recipient`` is the URL,
#: ``text`` the ``application/x-www-form-urlencoded`` body.
HTTP = "http"


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str  # EMAIL, SMS or HTTP
    recipient: str  # an address, an E.164 number or a URL
    template: str  # the purpose, e.g. "temporary_password"
    text: str
    subject: str = ""  # e-mail only
    html: str = ""  # e-mail only

    def __repr__(self) -> str:  # a message may carry a temporary password: never print its body
        return f"<OutgoingMessage {self.template} via {self.channel}>"


def mask_recipient(recipient: str) -> str:
    """Enough of an address or number for an operator to recognise it, not enough to harvest it."""
    if "@" in recipient:
        local, _, domain = recipient.partition("@")
        return (local[:1] + "***@" + domain) if local else "***@" + domain
    return recipient[:4] + "***" + recipient[-2:] if len(recipient) > 6 else "***"
