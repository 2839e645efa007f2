"""Verifying Amazon SNS messages posted to the provider's HTTPS endpoint (delivery receipts).

A message is believed only when all of this holds, else :class:`UnverifiedMessage` (a 4xx, nothing changed):

* it is a JSON object of a known ``Type`` (``Notification``, ``SubscriptionConfirmation``,
  ``UnsubscribeConfirmation``) with the fields SNS signs;
* its ``TopicArn`` is one the operator configured (``IDP_SNS_TOPIC_ARNS``);
* ``SignatureVersion`` is ``2`` (SHA256withRSA; version 1, SHA1, is refused);
* ``SigningCertURL`` is ``https://sns.<the topic's region>.amazonaws.com/<name>.pem``: https, that exact host,
  no port, user, query or fragment. The certificate is fetched from there over verified TLS (no redirect
  followed) and cached in the process; only ``IDP_SNS_TEST_CERTIFICATE`` (refused in production) replaces it;
* the signature verifies over SNS's canonical string, and ``Timestamp`` is recent (:data:`MAX_AGE`).

See https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
"""
from __future__ import annotations

import base64
import binascii
import http.client
import json
import ssl
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

#: The fields SNS signs, in the order of the canonical string (``Subject`` only when present).
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE_CONFIRMATION: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
#: A message older than this is refused (SNS retries an HTTPS endpoint for about an hour by default).
MAX_AGE = timedelta(hours=1)
#: Clock skew tolerated for a message dated in the future.
MAX_SKEW = timedelta(minutes=5)
#: The certificate download: time limit and the largest body taken.
FETCH_TIMEOUT = 5
MAX_CERTIFICATE_BYTES = 16 * 1024
_CACHE_SIZE = 16


class UnverifiedMessage(Exception):
    """The message is malformed (``status`` 400) or not proven to come from a configured topic (403)."""

    def __init__(self, code: str, description: str, status: int = 403):
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


def canonical_string(message: dict) -> bytes:
    """What SNS signs: ``name\\nvalue\\n`` for each signed field present, in order."""
    parts = []
    for name in SIGNED_FIELDS[message["Type"]]:
        if name == "Subject" and message.get("Subject") is None:
            continue
        parts.append(f"{name}\n{message[name]}\n")
    return "".join(parts).encode("utf-8")


def topic_region(arn: str) -> str:
    """``eu-central-1`` of ``arn:aws:sns:eu-central-1:123456789012:name``."""
    return arn.split(":")[3]


def check_certificate_url(url: str, region: str) -> None:
    """Raise unless ``url`` is ``https://sns.<region>.amazonaws.com/<path>.pem`` exactly."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnverifiedMessage("sns.certificate_url", "SigningCertURL is not a URL") from None
    if (parts.scheme != "https" or parts.netloc != f"sns.{region}.amazonaws.com" or port is not None
            or parts.query or parts.fragment or not parts.path.endswith(".pem") or "\\" in url):
        raise UnverifiedMessage("sns.certificate_url",
                                f"SigningCertURL must be https://sns.{region}.amazonaws.com/….pem")


class SnsVerifier:
    """Verifies messages of the configured topics; certificates are kept once fetched (per process)."""

    def __init__(self, topic_arns: tuple[str, ...], *, test_certificate_path: str = ""):
        self.topic_arns = frozenset(topic_arns)
        self.test_certificate_path = test_certificate_path
        self._cache: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, now: datetime) -> dict:
        """The message in ``body``, verified; raises :class:`UnverifiedMessage`. ``now`` is naive UTC."""
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UnverifiedMessage("sns.malformed", "the body is not a JSON object", 400) from None
        if not isinstance(message, dict) or message.get("Type") not in SIGNED_FIELDS:
            raise UnverifiedMessage("sns.malformed", "not an SNS message (Type)", 400)
        for name in (*SIGNED_FIELDS[message["Type"]], "Signature", "SignatureVersion", "SigningCertURL"):
            value = message.get(name)
            if name == "Subject" and value is None:
                continue
            if not isinstance(value, str):
                raise UnverifiedMessage("sns.malformed", f"{name} is missing or not a string", 400)
        if message["TopicArn"] not in self.topic_arns:
            raise UnverifiedMessage("sns.topic", "TopicArn is not a topic this provider was configured for")
        if message["SignatureVersion"] != "2":
            raise UnverifiedMessage("sns.signature_version", "only SignatureVersion 2 (SHA256withRSA) is accepted")
        check_certificate_url(message["SigningCertURL"], topic_region(message["TopicArn"]))
        try:
            signature = base64.b64decode(message["Signature"], validate=True)
        except (binascii.Error, ValueError):
            raise UnverifiedMessage("sns.signature", "Signature is not base64", 400) from None
        key = self._test_certificate() if self.test_certificate_path else self._certificate(message["SigningCertURL"])
        try:
            key.verify(signature, canonical_string(message), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise UnverifiedMessage("sns.signature", "the signature does not verify") from None
        timestamp = _timestamp(message["Timestamp"])
        if not now - MAX_AGE <= timestamp <= now + MAX_SKEW:
            raise UnverifiedMessage("sns.stale", "the message is too old (or dated in the future)")
        return message

    def _test_certificate(self) -> rsa.RSAPublicKey:
        """The certificate of ``IDP_SNS_TEST_CERTIFICATE`` (never in production), read afresh each time: a test
        may trust the certificate of an SNS it runs (moto's) once it knows it."""
        try:
            with open(self.test_certificate_path, "rb") as fh:
                return _public_key(fh.read())
        except OSError:
            raise UnverifiedMessage("sns.certificate", "the test certificate cannot be read") from None

    def _certificate(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            key = self._cache.get(url)
        if key is not None:
            return key
        key = _public_key(_fetch(url))
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = key
        return key


def _fetch(url: str) -> bytes:
    """GET ``url`` (already checked) over TLS verified against the system's CAs; redirects are not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(parts.hostname, timeout=FETCH_TIMEOUT,
                                             context=ssl.create_default_context())
    try:
        connection.request("GET", parts.path, headers={"Accept": "application/x-pem-file"})
        response = connection.getresponse()
        body = response.read(MAX_CERTIFICATE_BYTES + 1)
    except (OSError, http.client.HTTPException) as exc:
        raise UnverifiedMessage("sns.certificate", f"the signing certificate could not be fetched "
                                f"({type(exc).__name__})") from None
    finally:
        connection.close()
    if response.status != 200 or len(body) > MAX_CERTIFICATE_BYTES:
        raise UnverifiedMessage("sns.certificate", f"the signing certificate could not be fetched "
                                f"(HTTP {response.status})")
    return body


def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise UnverifiedMessage("sns.certificate", "the signing certificate cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnverifiedMessage("sns.certificate", "the signing certificate is not RSA")
    return key


def _timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UnverifiedMessage("sns.malformed", "Timestamp is not an ISO 8601 time", 400) from None
    if parsed.tzinfo is None:
        raise UnverifiedMessage("sns.malformed", "Timestamp has no time zone", 400)
    return parsed.astimezone(timezone.utc).replace(tzinfo=None)
