"""``idp deliveries confirm-subscription | undeliverable | clear-undeliverable``: delivery receipts' operator side.

* ``confirm-subscription`` confirms the SNS subscription of the receipts endpoint with the token SNS sent in
  its (verified) SubscriptionConfirmation, through the SNS API (``ConfirmSubscription``, with the provider's
  AWS credentials, ``AuthenticateOnUnsubscribe``), never by visiting the SubscribeURL the message names.
* ``undeliverable`` lists the addresses receipts marked (masked); ``clear-undeliverable`` lifts a mark.
"""
from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import delete, select

from idp.accounts import InvalidLogin, find_by_login, parse_login
from idp.audit import record
from idp.cli.deliveries import deliveries
from idp.cli.output import domain_errors, emit, json_option
from idp.delivery.models import SnsSubscriptionConfirmation, UndeliverableRecipient
from idp.delivery.receipts import clear_undeliverable, describe_mark
from idp.delivery.sns_messages import topic_region
from idp.errors import BadRequest, Conflict, NotFound
from idp.extensions import db


class NoConfirmation(NotFound):
    code = "receipts.no_confirmation"


class ConfirmationRefused(Conflict):
    code = "receipts.confirmation_refused"


class NotMarked(NotFound):
    code = "receipts.not_marked"


@deliveries.command("confirm-subscription")
@click.option("--topic-arn", help="Only this topic's confirmation (one of IDP_SNS_TOPIC_ARNS).")
@json_option
@domain_errors
def confirm_subscription(topic_arn, as_json):
    """Confirm the SNS subscription of /api/delivery/sns (after SNS sent its SubscriptionConfirmation there)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from idp.delivery.courier import aws_session

    services = current_app.extensions["idp"]
    topics = services.settings.receipt_topics
    if topic_arn and topic_arn not in topics:
        raise BadRequest(f"{topic_arn} is not in IDP_SNS_TOPIC_ARNS", code="receipts.topic")
    query = select(SnsSubscriptionConfirmation).where(
        SnsSubscriptionConfirmation.topic_arn.in_([topic_arn] if topic_arn else topics))
    pending = list(db.session.execute(query.order_by(SnsSubscriptionConfirmation.id)).scalars())
    if not pending:
        raise NoConfirmation("no SubscriptionConfirmation has arrived: subscribe "
                             f"{services.settings.issuer}/api/delivery/sns to the topic (protocol https), "
                             "then run this again")
    session, config = aws_session()
    confirmed = []
    for item in pending:
        client = session.client("sns", region_name=topic_region(item.topic_arn), config=config)
        try:
            answer = client.confirm_subscription(TopicArn=item.topic_arn, Token=item.token,
                                                 AuthenticateOnUnsubscribe="true")
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
            raise ConfirmationRefused(f"SNS refused to confirm {item.topic_arn}: {code} (a token lives three "
                                      "days: request a new confirmation from the SNS console)") from None
        db.session.execute(delete(SnsSubscriptionConfirmation).where(SnsSubscriptionConfirmation.id == item.id))
        record("admin.action", at=services.clock.now(), action="confirm_sns_subscription", via="cli",
               topic_arn=item.topic_arn)
        db.session.commit()
        confirmed.append({"topic_arn": item.topic_arn, "subscription_arn": answer.get("SubscriptionArn")})
    emit(confirmed, as_json)


@deliveries.command("undeliverable")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def undeliverable(limit, as_json):
    """Addresses delivery receipts marked undeliverable (hard bounce, complaint), newest first, masked."""
    marks = db.session.execute(select(UndeliverableRecipient).order_by(UndeliverableRecipient.marked_at.desc())
                               .limit(limit)).scalars()
    emit([describe_mark(mark) for mark in marks], as_json)


@deliveries.command("clear-undeliverable")
@click.argument("address")
@json_option
@domain_errors
def clear(address, as_json):
    """Lift the mark on ADDRESS (an e-mail or phone): messages go to it again."""
    try:
        login = parse_login(address)
    except InvalidLogin:
        raise BadRequest("not an e-mail address or phone number", code="login.invalid") from None
    account = find_by_login(login)
    now = current_app.extensions["idp"].clock.now()
    if not clear_undeliverable(login.value, now, account_id=account.id if account else None, via="cli"):
        raise NotMarked(f"{address} is not marked undeliverable")
    db.session.commit()
    emit({"cleared": True, "channel": "email" if login.is_email else "sms"}, as_json)
