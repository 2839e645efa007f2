"""One message in every state of its life, for the tests of what operators and admins see of the outbox.

Every row goes through the real outbox (:func:`idp.delivery.enqueue`, sealed parameters with a temporary
password in them); those that were handed to the provider are sent by the real dispatcher through the
development mailbox transport, which gives them a provider message id. What happens after — a claim in
flight, a failed attempt, a dead letter, and the receipts (delivered, bounced, complained, failed) that the
receipts' own code records — is then written on the rows directly, as that code would leave them.
"""
from __future__ import annotations

from datetime import timedelta

from idp.delivery import Delivery, Dispatcher, enqueue
from idp.extensions import db

#: The account whose messages these are, and the temporary password sealed in every message.
EMAIL, PHONE = "maria.ivanova@example.com", "+79167654321"
MASKED_EMAIL, MASKED_PHONE = "m***@example.com", "+791***21"
PASSWORD = "Qz7mKp2W"
#: The states an admin reads (``describe()["state"]``), with each row's channel.
STATES = {"queued": "email", "retrying": "email", "sending": "sms", "sent": "email", "delivered": "sms",
          "bounced": "email", "complained": "email", "failed": "sms", "dead": "email", "superseded": "email"}
#: Which of them went to the provider (and so carry its message id).
HANDED_OVER = ("sent", "delivered", "bounced", "complained", "failed")
RETRY_ERROR = "SES unreachable: EndpointConnectionError"
DEAD_ERROR = "MessageRejected: Email address is not verified"
DETAILS = {"bounced": "bounce:Permanent/General", "complained": "complaint:abuse",
           "failed": "sms:Phone is currently unreachable/unavailable"}


def every_state(app, clock) -> dict[str, int]:
    """A message of Мария Иванова's in each of :data:`STATES`; their ids by state.

    All are created at the clock's time; sent a minute later; receipts arrive two minutes after that."""
    from idp.accounts import create_account

    services = app.extensions["idp"]
    with app.app_context():
        account = create_account(email=EMAIL, phone=PHONE, now=clock.now())
        db.session.flush()
        ids = {}
        for state, channel in STATES.items():
            row = enqueue(services, "temporary_password", channel=channel,
                          recipient=PHONE if channel == "sms" else EMAIL, account_id=account.id,
                          params={"password": PASSWORD, "login_url": services.settings.issuer + "/login"})
            ids[state] = row.id
        db.session.commit()

        clock.advance(seconds=60)
        dispatcher = Dispatcher(services)
        for state in HANDED_OVER:
            assert dispatcher.dispatch(ids[state]) == "sent", state
        clock.advance(seconds=120)
        now = clock.now()
        for state, delivery_id in ids.items():
            row = db.session.get(Delivery, delivery_id)
            if state in ("delivered", "bounced", "complained", "failed"):
                row.status, row.outcome_at, row.outcome_detail = state, now, DETAILS.get(state)
            elif state == "retrying":
                row.attempts, row.last_error, row.next_attempt_at = 1, RETRY_ERROR, now + timedelta(minutes=5)
            elif state == "sending":
                row.status, row.attempts, row.claimed_until = "sending", 1, now + timedelta(minutes=1)
            elif state == "dead":
                row.status, row.attempts, row.last_error = "dead", 6, DEAD_ERROR
            elif state == "superseded":
                row.status, row.payload = "superseded", None
        db.session.commit()
    return ids


def sealed_payloads(app, ids) -> list[str]:
    """The sealed parameters still kept on the rows (none of it may ever be shown)."""
    with app.app_context():
        return [row.payload for row in (db.session.get(Delivery, i) for i in ids) if row.payload]
