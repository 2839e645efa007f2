"""``POST /api/delivery/sns``: the HTTPS endpoint an SNS topic of delivery receipts is subscribed to.

Every message is verified first (:mod:`idp.delivery.sns_messages`); a bad or unverifiable one is answered
with a JSON error (400 malformed, 403 not proven, 404 receipts not configured) and changes nothing. A verified
receipt is recorded (:mod:`idp.delivery.receipts`) and answered 200, as is a verified message there is nothing
to do about (an unknown message id, an SES event type not recorded), so SNS does not retry it. A
SubscriptionConfirmation is kept for the operator's ``idp deliveries confirm-subscription``.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, request

from idp.delivery.receipts import handle
from idp.delivery.sns_messages import SnsVerifier, UnverifiedMessage
from idp.errors import IdpError
from idp.extensions import db
from idp.json_api import install_error_handlers

log = logging.getLogger(__name__)

bp = Blueprint("delivery_receipts", __name__, url_prefix="/api/delivery")

#: SNS messages are at most 256 KB; an SES event with its mail headers stays well below.
MAX_BODY = 300 * 1024


class ReceiptError(IdpError):
    error = "invalid_request"

    def __init__(self, exc: UnverifiedMessage):
        super().__init__(exc.description, code=exc.code)
        self.status = exc.status
        if exc.status == 403:
            self.error = "access_denied"


class ReceiptsDisabled(IdpError):
    error = "not_found"
    code = "receipts.disabled"
    status = 404


def init_app(app: Flask) -> None:
    """Register the endpoint; CSRF-exempt (SNS posts no cookie: the message's signature is the proof)."""
    from idp.extensions import csrf

    settings = app.extensions["idp"].settings
    app.extensions["idp.sns_verifier"] = SnsVerifier(settings.receipt_topics,
                                                     test_certificate_path=settings.sns_test_certificate)
    csrf.exempt(bp)
    app.register_blueprint(bp)


install_error_handlers(bp)


@bp.post("/sns")
def sns():
    verifier: SnsVerifier = current_app.extensions["idp.sns_verifier"]
    if not verifier.topic_arns:
        raise ReceiptsDisabled("delivery receipts are not configured (IDP_SNS_TOPIC_ARNS)")
    request.max_content_length = MAX_BODY
    body = request.get_data(cache=False)
    now = current_app.extensions["idp"].clock.now()
    try:
        message = verifier.verify(body, now)
        answer = handle(message, now)
    except UnverifiedMessage as exc:
        db.session.rollback()
        log.warning("SNS message refused (%s): %s", exc.code, exc.description)
        raise ReceiptError(exc) from None
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
