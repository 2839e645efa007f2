"""``idp deliveries …``: run the delivery worker, list messages (dead letters too), re-queue a dead one."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup

from idp.accounts import find_by_login, parse_login
from idp.admin.casework import requeue_delivery
from idp.admin.operations import Actor
from idp.cli.output import domain_errors, emit, json_option
from idp.delivery import Dispatcher
from idp.delivery.models import STATUSES
from idp.delivery.failures import ALL, FAILED, describe, listing
from idp.extensions import db
from idp.passwords.reset import issue_pending

deliveries = AppGroup("deliveries", help="The message outbox and its dispatcher.")

__all__ = ["deliveries", "describe"]


@deliveries.command("run")
@click.option("--once", is_flag=True, help="One pass over due messages, then exit.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between passes.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def run(once, interval, batch, as_json):
    """Issue pending temporary passwords, then send queued messages, with retries and backoff; several
    workers may run at once: each claims its own batches (see the README, "several workers")."""
    services = current_app.extensions["idp"]
    dispatcher = Dispatcher(services)
    while True:
        # «Забыли пароль?» requests become temporary passwords and queued messages (due at once), then
        # the dispatcher's pass sends them with everything else that is due. Each step claims its batch
        # first, so other workers running the same loop take other requests and other messages.
        issued = issue_pending(services, limit=batch)
        report = dispatcher.run_due(limit=batch)
        db.session.remove()
        if once:
            emit(report.as_dict(), as_json)
            return
        if report.sent or report.retrying or report.dead:
            click.echo(f"sent {len(report.sent)}, retrying {len(report.retrying)}, dead {len(report.dead)}")
        if len(issued) < batch and len(report.sent) + len(report.retrying) + len(report.dead) < batch:
            time.sleep(interval)  # a full batch means more may be waiting: go on at once


@deliveries.command("list")
@click.option("--failed", is_flag=True, help="Only dead letters and messages waiting for a retry.")
@click.option("--status", type=click.Choice(STATUSES),
              help="Only messages in this state (the receipts too: delivered, bounced, complained, failed).")
@click.option("--account", "login", help="Only this customer's messages (an e-mail or phone in any form), "
              "and those sent to that address or number.")
@click.option("--since", help="Only messages created from this UTC time (ISO 8601).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
@domain_errors
def list_(failed, status, login, since, limit, as_json):
    """List messages in every state, newest first: recipients masked, never the text."""
    account_id = recipient = None
    if login:
        # Any form of the login (+7 916 …, 8 (916) …, an e-mail in capitals); the account's messages, and
        # those to that address or number whoever it belongs to now.
        parsed = parse_login(login)
        account = find_by_login(parsed)
        account_id, recipient = (account.id if account else None), parsed.value
    query = listing(FAILED if failed else ALL, status=status, account_id=account_id, recipient=recipient,
                    since=_since(since))
    emit([describe(row) for row in db.session.execute(query.limit(limit)).scalars()], as_json)


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().removesuffix("Z").removesuffix("z"))
    except ValueError:
        raise click.BadParameter(f"not an ISO date or time: {value!r}", param_hint="--since") from None
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


@deliveries.command("requeue")
@click.argument("delivery_id")
@json_option
@domain_errors
def requeue(delivery_id, as_json):
    """Put a dead message back in the queue (in IDP_DELIVERY_MODE=inline it is also sent at once)."""
    row = requeue_delivery(current_app.extensions["idp"], Actor(via="cli"), delivery_id)
    emit(describe(row), as_json)
