"""What the held-policies and failed-messages tests start from: held and refused policies, dead letters.

The app of these tests sends through :class:`Flaky`, the development mailbox behind a switch: while
``down`` it refuses every message (a definite refusal, so the dispatcher retries or gives up), and once
up it writes to the test's mailbox file like the real development transport.
"""
from __future__ import annotations

from sqlalchemy import select

from idp.delivery import DEAD, Courier, Delivery, DeliveryError, Dispatcher
from idp.delivery.transports import MailboxTransport
from idp.extensions import db
from tests.policies.conftest import policy_doc

AGENT = "agent@broker.example"
SIDOROV = {"full_name": "Сидоров Сидор", "birth_date": "1970-01-01", "email": AGENT,
           "phone": "+7 903 111-22-33"}
IVAN = {"full_name": "Иванов Иван Иванович", "birth_date": "1980-05-17", "email": AGENT,
        "phone": "+7 916 123-45-67"}


class Flaky:
    def __init__(self, mailbox: MailboxTransport):
        self.mailbox = mailbox
        self.down = False

    def send(self, message):
        if self.down:
            raise DeliveryError("SES unreachable: EndpointConnectionError")
        return self.mailbox.send(message)


def flaky_courier(settings) -> tuple[Courier, Flaky]:
    transport = Flaky(MailboxTransport(settings.mailbox_path, sender=settings.email_from))
    return Courier({"email": transport, "sms": transport}), transport


def issue(app, **overrides) -> dict:
    """One policy through the intake (source ``test``); the outcome as the API shows it."""
    from idp.policies import issue_policy

    with app.app_context():
        return issue_policy(app.extensions["idp"], policy_doc(**overrides), source="test").as_dict()


def held_by_the_agent(app) -> dict:
    """Сидоров's account has his agent's e-mail; Иванов's policy LF-2 with that e-mail is held for it."""
    assert issue(app, number="LF-1", person=SIDOROV)["result"] == "account_created"
    held = issue(app, number="LF-2", person=IVAN)
    assert (held["state"], held["reason"]) == ("held", "contact_belongs_to_another_person")
    return held


def dead_letters(app, transport: Flaky) -> list[int]:
    """The welcome e-mail and SMS of Анна's new account, dead after their one attempt; their ids.

    Messages queued before (in worker mode) die with them: the transport is down for everyone."""
    transport.down = True
    issue(app, number="W-1", person={"email": "anna@example.com", "phone": "+7 916 555-00-11",
                                     "full_name": "Анна Петрова", "birth_date": "1990-02-03"})
    with app.app_context():
        Dispatcher(app.extensions["idp"]).run_due()
        rows = db.session.execute(select(Delivery).where(
            Delivery.status == DEAD, Delivery.recipient.in_(["anna@example.com", "+79165550011"]))
            .order_by(Delivery.id)).scalars().all()
        assert len(rows) == 2, [(r.status, r.last_error) for r in rows]
        ids = [r.id for r in rows]
    transport.down = False
    return ids


def delivery(app, delivery_id: int) -> Delivery:
    with app.app_context():
        row = db.session.get(Delivery, delivery_id)
        db.session.expunge(row)
        return row


def events(app, name: str) -> list:
    from idp.audit import search

    with app.app_context():
        found = search(event=name)
        for row in found:
            db.session.expunge(row)
        return found
