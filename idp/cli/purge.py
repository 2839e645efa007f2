"""``idp purge``: delete expired codes, tokens, temporary passwords and sessions, and withdraw unsent
messages whose temporary password has expired (run it daily)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.cli.output import emit, json_option
from idp.retention import purge_expired


@click.command("purge")
@click.option("--grace-hours", default=24, show_default=True, type=click.IntRange(1, 24 * 365),
              help="Keep expired rows this long as evidence against replayed codes and refresh tokens.")
@json_option
@with_appcontext
def purge_command(grace_hours, as_json):
    """Delete what expired more than --grace-hours ago; prints the counts."""
    services = current_app.extensions["idp"]
    emit(purge_expired(services.clock.now(), timedelta(hours=grace_hours),
                       timedelta(seconds=services.settings.temp_password_ttl)), as_json)
