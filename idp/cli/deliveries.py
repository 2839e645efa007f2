"""``idp deliveries …``: run the delivery worker, list messages (dead letters too), re-queue a dead one."""
from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from idp.admin.casework import requeue_delivery
from idp.admin.operations import Actor
from idp.cli.output import domain_errors, emit, json_option
from idp.delivery import Delivery, Dispatcher
from idp.delivery.models import STATUSES
from idp.delivery.failures import describe, failed_filter
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
    workers may run at once."""
    services = current_app.extensions["idp"]
    dispatcher = Dispatcher(services)
    while True:
        # «Забыли пароль?» requests become temporary passwords and queued messages (due at once), then
        # the dispatcher's pass sends them with everything else that is due.
        issue_pending(services, limit=batch)
        report = dispatcher.run_due(limit=batch)
        db.session.remove()
        if once:
            emit(report.as_dict(), as_json)
            return
        if report.sent or report.retrying or report.dead:
            click.echo(f"sent {len(report.sent)}, retrying {len(report.retrying)}, dead {len(report.dead)}")
        time.sleep(interval)


@deliveries.command("list")
@click.option("--failed", is_flag=True, help="Only dead letters and messages waiting for a retry.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_(failed, status, limit, as_json):
    """List messages, newest first."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if failed:
        query = query.where(failed_filter())
    if status:
        query = query.where(Delivery.status == status)
    emit([describe(row) for row in db.session.execute(query).scalars()], as_json)


@deliveries.command("requeue")
@click.argument("delivery_id")
@json_option
@domain_errors
def requeue(delivery_id, as_json):
    """Put a dead message back in the queue (in IDP_DELIVERY_MODE=inline it is also sent at once)."""
    row = requeue_delivery(current_app.extensions["idp"], Actor(via="cli"), delivery_id)
    emit(describe(row), as_json)
