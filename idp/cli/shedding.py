"""``idp shedding``: sign-in attempts refused under a flood, per minute and lane, for all instances at once."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from idp.cli.output import emit, json_option
from idp.passwords.admission import LANES, shed_per_minute


@click.command("shedding")
@click.option("--minutes", default=15, show_default=True, type=click.IntRange(1, 1440),  # tallies kept a day
              help="How many minutes back, the current one first.")
@json_option
@with_appcontext
def shedding_command(minutes, as_json):
    """Show the sign-in attempts refused because password checks were over capacity (a credential-stuffing
    flood), per minute and lane, added up over every instance sharing the throttle store (Redis or the
    database). Exit status 0 either way; "shedding: yes" while the current or previous minute has refusals."""
    services = current_app.extensions["idp"]
    rows = shed_per_minute(services.throttler.store, services.clock.now(), minutes)
    now = any(row[lane] for row in rows[:2] for lane in LANES)
    if as_json:
        emit({"shedding": now, "minutes": rows}, True)
        return
    lines = [f"shedding: {'yes' if now else 'no'}", "minute (UTC)           " + "".join(f"{lane:>10}" for lane in LANES)]
    lines += [f"{row['minute']:<23}" + "".join(f"{row[lane]:>10}" for lane in LANES) for row in rows]
    emit(None, False, "\n".join(lines))
