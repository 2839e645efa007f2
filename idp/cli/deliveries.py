"""``idp deliveries …``: run the dispatcher, list messages (dead letters too), re-queue a dead one."""
from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from idp.cli.output import emit, json_option
from idp.delivery import DEAD, Delivery, Dispatcher, mask_recipient
from idp.extensions import db

deliveries = AppGroup("deliveries", help="The message outbox and its dispatcher.")


def describe(row: Delivery) -> dict:
    """An outbox row for operators: never its payload."""
    return {
        "id": row.id, "account_id": row.account_id, "channel": row.channel,
        "recipient": mask_recipient(row.recipient), "template": row.template, "status": row.status,
        "attempts": row.attempts, "next_attempt_at": _iso(row.next_attempt_at), "last_error": row.last_error,
        "provider_message_id": row.provider_message_id, "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at),
    }


def _iso(value):
    return value.isoformat() + "Z" if value else None


@deliveries.command("run")
@click.option("--once", is_flag=True, help="One pass over due messages, then exit.")
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between passes.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def run(once, interval, batch, as_json):
    """Send queued messages, with retries and backoff; several dispatchers may run at once."""
    dispatcher = Dispatcher(current_app.extensions["idp"])
    while True:
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
@click.option("--status", type=click.Choice(["queued", "sending", "sent", "dead"]))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@json_option
def list_(failed, status, limit, as_json):
    """List messages, newest first."""
    query = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if failed:
        query = query.where((Delivery.status == DEAD) | (Delivery.last_error.isnot(None)) & (Delivery.status != "sent"))
    if status:
        query = query.where(Delivery.status == status)
    emit([describe(row) for row in db.session.execute(query).scalars()], as_json)


@deliveries.command("requeue")
@click.argument("delivery_id", type=int)
@json_option
def requeue(delivery_id, as_json):
    """Put a dead message back in the queue."""
    if not Dispatcher(current_app.extensions["idp"]).requeue(delivery_id):
        raise click.ClickException(f"delivery {delivery_id} is not a dead letter with its payload")
    emit(describe(db.session.get(Delivery, delivery_id)), as_json)
