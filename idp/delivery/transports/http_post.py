"""The HTTP transport: a form POSTed to a URL (OpenID Connect Back-Channel Logout 1.0 §2.5).

One request per attempt, redirects never followed (a 3xx is a refusal: the URL registered is the one
posted to), short timeouts. What the answer means for the outbox (:mod:`idp.delivery.dispatcher`):

* 200 or 204: delivered;
* another 2xx, a 3xx or a 4xx: refused for good (dead at once, the status in ``last_error``);
* a 5xx, a refused connection or a timeout: tried again with backoff. A logout token posted twice does
  no harm (the relying party's session is already over), so even a timeout after the request left is
  retried.
"""
from __future__ import annotations

import http.client
import logging
import socket
import ssl
from urllib.parse import urlsplit

from idp.delivery.message import OutgoingMessage
from idp.delivery.transports.base import PERMANENT, DeliveryError

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
DONE = (200, 204)


class HttpPostTransport:
    def __init__(self, *, timeout: float = 10.0, user_agent: str = "idp-backchannel/1"):
        self.timeout = timeout
        self.user_agent = user_agent
        self.context = ssl.create_default_context()

    def send(self, message: OutgoingMessage) -> str:
        parts = urlsplit(message.recipient)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise DeliveryError(f"not an http(s) URL: {message.recipient[:200]!r}", kind=PERMANENT,
                                reason="the registered URL cannot be posted to")
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                     context=self.context)
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        where = f"{message.template} POST to {parts.scheme}://{parts.netloc}{parts.path}"
        try:
            connection.request("POST", path, body=message.text.encode("ascii"),
                               headers={"Content-Type": FORM, "User-Agent": self.user_agent,
                                        "Cache-Control": "no-store"})
            response = connection.getresponse()
            status = response.status
            detail = response.read(300).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}"[:400]) from None
        finally:
            connection.close()
        if status in DONE:
            return f"http-{status}"
        answer = f"{where}: HTTP {status} {' '.join(detail.split())[:200]}".strip()
        if status >= 500:
            raise DeliveryError(answer)
        reason = ("a redirect (not followed)" if 300 <= status < 400
                  else f"the relying party answered {status}")
        raise DeliveryError(answer, kind=PERMANENT, reason=reason)
